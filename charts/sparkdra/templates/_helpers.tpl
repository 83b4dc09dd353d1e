{{/* Labels every object carries: kustomize's part-of label, and Helm's own. */}}
{{- define "sparkdra.labels" -}}
app.kubernetes.io/part-of: sparkdra
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "sparkdra.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}

{{/* The pod-level security context both Deployments share. */}}
{{- define "sparkdra.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "sparkdra.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/*
sparkdra.bindings: the RoleBindings (one per Spark namespace) or, with no namespaces, the
ClusterRoleBinding of a ClusterRole to a ServiceAccount. Call with
(dict "root" $ "name" "sparkdra-exporter" "sa" "spark-dra-exporter").
*/}}
{{- define "sparkdra.bindings" -}}
{{- $root := .root -}}
{{- if $root.Values.sparkNamespaces }}
{{- range $root.Values.sparkNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $.name }}
  namespace: {{ . }}
  labels:
    {{- include "sparkdra.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $.name }}
subjects:
  - kind: ServiceAccount
    name: {{ $.sa }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- else }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ .name }}
  labels:
    {{- include "sparkdra.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .sa }}
    namespace: {{ $root.Release.Namespace }}
{{- end }}
{{- end -}}

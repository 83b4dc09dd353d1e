//go:build e2e_k8s

package k8se2e

import (
	"strings"
	"testing"
)

// One decoder for manifests and applies: empty documents skipped, a malformed one fails the
// whole stream and returns nothing.
func TestDecodeObjects(t *testing.T) {
	objs, err := decodeObjects([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\n{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"b\"}}\n"))
	if err != nil || len(objs) != 2 || objs[0].GetName() != "a" || objs[1].GetName() != "b" {
		t.Fatalf("got %d objects, %v", len(objs), err)
	}
	objs, err = decodeObjects([]byte("kind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n"))
	if err == nil || objs != nil || !strings.Contains(err.Error(), "document 2") {
		t.Errorf("malformed second document: %d objects, %v", len(objs), err)
	}
}

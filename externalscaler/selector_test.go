package externalscaler

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	labels := map[string]string{"namespace": "spark", "app_name": "etl-daily", "app_id": "app-1"}
	get := func(n string) string { return labels[n] }
	cases := map[string]bool{
		`namespace="spark",app_name=~"etl-.*"`:       true,
		`{namespace="spark", app_name=~'etl-.*'}`:    true,
		"app_name=~`etl-.*`":                         true,
		`app_name=~"etl"`:                            false, // anchored
		`namespace="spark",app_name!~"etl-.*"`:       false,
		`namespace="spark",app_name!="o",cluster=""`: true, // absent label is ""
		`namespace="spark",cluster="eu"`:             false,
		`app_name="etl-daily",`:                      true, // trailing comma, as PromQL
		`app_id=~"app-1|app-2"`:                      true,
		`app_name="etl-\x64aily"`:                    true,
	}
	for in, want := range cases {
		sel, err := ParseSelector(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got := sel.Matches(get); got != want {
			t.Errorf("%s matches = %v, want %v", in, got, want)
		}
	}
}

func TestParseSelectorErrors(t *testing.T) {
	cases := map[string]string{
		``:                        "no label matchers",
		`{}`:                      "no label matchers",
		`{app_name="x"`:           "missing closing '}'",
		`app_name`:                "expected =, !=, =~ or !~",
		`app_name=x`:              "expected a quoted value",
		`app_name="x`:             "unterminated string",
		`app_name=~"(" `:          "invalid regular expression",
		`app_name="a" app_id="b"`: "expected ','",
		`1abc="x"`:                "expected a label name",
		`app_name=~".*"`:          "must not match the empty string",
		`app_name!="x"`:           "must not match the empty string",
	}
	for in, want := range cases {
		_, err := ParseSelector(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestSelectorString(t *testing.T) {
	sel, err := ParseSelector(`namespace="spark",app_name=~'etl-.*'`)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseSelector(sel.String())
	if err != nil || again.String() != sel.String() {
		t.Errorf("round trip %q → %q (%v)", sel.String(), again.String(), err)
	}
}

// FuzzParseSelector: any input parses or fails cleanly; what parses
// prints back to a selector that parses to the same thing.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`namespace="spark",app_name=~"etl-.*"`, `{a!~'x\'y'}`, "a=`b`", `a="\u00e9"`, `a=~"[" `, `{,}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sel, err := ParseSelector(in)
		if err != nil {
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil {
			t.Fatalf("%q parsed, but its rendering %q does not: %v", in, sel.String(), err)
		}
		if again.String() != sel.String() {
			t.Fatalf("round trip changed %q into %q", sel.String(), again.String())
		}
		sel.Matches(func(string) string { return in })
	})
}

// FuzzParseTrigger: any metadata parses or gives an error; an accepted
// config builds an engine.
func FuzzParseTrigger(f *testing.F) {
	f.Add(`app_name="etl"`, "2", "1", "10", "60s", "")
	f.Add(`app_name=~"x"`, "0", "5", "2", "soon", "http://p:9090")
	f.Add("", "x", "-1", "0", "-3s", "::")
	f.Fuzz(func(t *testing.T, selector, epr, minE, maxE, idle, prom string) {
		tc, err := ParseTrigger(map[string]string{
			KeySelector: selector, KeyExecutorsPerReplica: epr, KeyPrometheusAddress: prom,
			"spark.dynamicAllocation.minExecutors": minE, "spark.dynamicAllocation.maxExecutors": maxE,
			"spark.dynamicAllocation.executorIdleTimeout": idle,
		})
		if err != nil {
			if errors.Unwrap(err) == nil && err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if tc.ExecutorsPerReplica < 1 || len(tc.Selector) == 0 {
			t.Fatalf("accepted %+v", tc)
		}
		if err := tc.Spark.Validate(); err != nil {
			t.Fatalf("accepted an invalid Spark config: %v", err)
		}
	})
}

package memberview

import (
	"encoding/base64"
	"net/url"
	"reflect"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestVersionsRoundTrip(t *testing.T) {
	for _, v := range []versions{
		{},
		{"member1": "1234"},
		{"member1": "1234", "member2": "98765", "z-last": "1"},
		{"a": ""}, // a member that reported no resourceVersion
	} {
		s := v.encode()
		if !strings.HasPrefix(s, rvPrefix) {
			t.Errorf("%v: encoded %q lacks the %q prefix", v, s, rvPrefix)
		}
		got, composite, err := decodeVersions(s)
		if err != nil || !composite || !reflect.DeepEqual(got, v) {
			t.Errorf("decodeVersions(%q) = %v, %v, %v; want %v, true, nil", s, got, composite, err, v)
		}
		if again := v.clone().encode(); again != s {
			t.Errorf("%v: equal positions encode differently: %q and %q", v, s, again)
		}
	}
	// clone is a copy: changing it leaves the original alone.
	v := versions{"a": "1"}
	c := v.clone()
	c["a"], c["b"] = "2", "3"
	if !reflect.DeepEqual(v, versions{"a": "1"}) {
		t.Errorf("clone shares its map: %v", v)
	}
}

func TestDecodeVersions(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, in      string
		wantComposite bool
		wantErr       bool
		want          versions
	}{
		{name: "kube-apiserver's own", in: "123"},
		{name: "empty", in: ""},
		{name: "zero", in: "0"},
		{name: "prefix without the dot", in: "fg1"},
		{name: "composite", in: rvPrefix + b64(`{"a":"10","b":"20"}`), wantComposite: true, want: versions{"a": "10", "b": "20"}},
		{name: "not base64", in: rvPrefix + "!!!not base64***", wantComposite: true, wantErr: true},
		{name: "base64 of no JSON", in: rvPrefix + b64("hello"), wantComposite: true, wantErr: true},
		{name: "JSON of the wrong shape", in: rvPrefix + b64(`["a","b"]`), wantComposite: true, wantErr: true},
		{name: "nothing after the prefix", in: rvPrefix, wantComposite: true, wantErr: true},
		{name: "padded base64", in: rvPrefix + base64.URLEncoding.EncodeToString([]byte(`{"a":"10"}`)), wantComposite: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, composite, err := decodeVersions(tc.in)
			if composite != tc.wantComposite || (err != nil) != tc.wantErr {
				t.Fatalf("decodeVersions(%q) = %v, composite %v, err %v; want composite %v, error %v", tc.in, got, composite, err, tc.wantComposite, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "not one this gateway issued") {
				t.Errorf("error %q does not say the resourceVersion is not the gateway's", err)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decodeVersions(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestCursorRoundTrip(t *testing.T) {
	for _, c := range []cursor{
		{Versions: versions{"a": "10", "b": "20"}, Pending: []memberToken{{Cluster: "a", Continue: "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTAsInN0YXJ0IjoicDcifQ"}, {Cluster: "b"}}},
		{Versions: versions{"b": "20"}, Pending: []memberToken{{Cluster: "b"}}},
	} {
		s := c.encode()
		got, err := decodeCursor(s)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("decodeCursor(%q) = %+v, %v; want %+v", s, got, err, c)
		}
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ name, in string }{
		{"kube-apiserver's own token", "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTAsInN0YXJ0IjoicDcifQ"},
		{"empty", ""},
		{"not base64", continuePrefix + "***"},
		{"not JSON", continuePrefix + b64("hello")},
		{"nothing pending", continuePrefix + b64(`{"rv":{"a":"1"},"m":[]}`)},
		{"a composite resourceVersion", versions{"a": "1"}.encode()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := decodeCursor(tc.in); err == nil {
				t.Errorf("decodeCursor(%q) = %+v, want an error", tc.in, c)
			} else if !strings.Contains(err.Error(), "continue token") {
				t.Errorf("error %q does not name the continue token", err)
			}
		})
	}
}

func TestStartVersions(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	composite := versions{"a": "10", "b": "20"}.encode()
	for _, tc := range []struct {
		name, rv    string
		want        versions
		wantExpired bool
		wantBad     bool
	}{
		{name: "unset", rv: ""},
		{name: "any", rv: "0"},
		{name: "a member's own", rv: "123", wantExpired: true},
		{name: "composite", rv: composite, want: versions{"a": "10", "b": "20"}},
		{name: "garbage composite", rv: rvPrefix + "%%%", wantBad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := startVersions(tc.rv, pods)
			switch {
			case tc.wantExpired:
				if !apierrors.IsResourceExpired(err) {
					t.Fatalf("startVersions(%q) = %v, %v; want 410 Expired", tc.rv, got, err)
				}
				if !strings.Contains(err.Error(), "pods") || !strings.Contains(err.Error(), "123") {
					t.Errorf("message %q does not name the resource and resourceVersion", err)
				}
			case tc.wantBad:
				if !apierrors.IsBadRequest(err) {
					t.Fatalf("startVersions(%q) = %v, %v; want 400", tc.rv, got, err)
				}
			default:
				if err != nil || !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("startVersions(%q) = %v, %v; want %v", tc.rv, got, err, tc.want)
				}
			}
		})
	}
}

func TestMemberQuery(t *testing.T) {
	client := url.Values{
		"resourceVersion":      {versions{"a": "10"}.encode()},
		"resourceVersionMatch": {"NotOlderThan"},
		"labelSelector":        {"app=web"},
		"limit":                {"7"},
		"continue":             {"fg1.whatever"},
	}
	start := versions{"a": "10", "b": "20"}
	for _, tc := range []struct {
		name    string
		start   versions
		cluster string
		want    url.Values
	}{
		{"member the position knows", start, "a", url.Values{"resourceVersion": {"10"}, "resourceVersionMatch": {"NotOlderThan"}, "labelSelector": {"app=web"}, "limit": {"7"}}},
		{"other member the position knows", start, "b", url.Values{"resourceVersion": {"20"}, "resourceVersionMatch": {"NotOlderThan"}, "labelSelector": {"app=web"}, "limit": {"7"}}},
		{"member the position does not know", start, "c", url.Values{"labelSelector": {"app=web"}, "limit": {"7"}}},
		{"no position: the client's query as it is, without continue", nil, "c", url.Values{"resourceVersion": {client.Get("resourceVersion")}, "resourceVersionMatch": {"NotOlderThan"}, "labelSelector": {"app=web"}, "limit": {"7"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := client.Encode()
			got := memberQuery(client, tc.cluster, tc.start)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("memberQuery(%s) = %v, want %v", tc.cluster, got, tc.want)
			}
			if client.Encode() != before {
				t.Errorf("memberQuery changed the client's query: %s", client.Encode())
			}
		})
	}
	// "0" and "" reach every member as the client sent them.
	for _, rv := range []string{"", "0"} {
		q := url.Values{"resourceVersion": {rv}}
		start, err := startVersions(rv, schema.GroupResource{Resource: "pods"})
		if err != nil {
			t.Fatal(err)
		}
		if got := memberQuery(q, "a", start).Get("resourceVersion"); got != rv {
			t.Errorf("resourceVersion %q reached the member as %q", rv, got)
		}
	}
}

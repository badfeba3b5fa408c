package override

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	clusterv1alpha1 "github.com/fleetgate/fleetgate/apis/cluster/v1alpha1"
	policyv1alpha1 "github.com/fleetgate/fleetgate/apis/policy/v1alpha1"
)

// deploymentYAML is a realistic Deployment: two containers, an init container, probes,
// resources, volumes.
const deploymentYAML = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx
  namespace: default
  labels:
    app: nginx
    app.kubernetes.io/name: nginx
  annotations:
    team: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: nginx
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app: nginx
    spec:
      initContainers:
      - name: init
        image: busybox:1.36
        command: ["sh", "-c", "true"]
      containers:
      - name: nginx
        image: nginx:1.27
        args: ["-g", "daemon off;"]
        ports:
        - containerPort: 80
          name: http
        resources:
          requests:
            cpu: 100m
            memory: 64Mi
          limits:
            memory: 128Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
          periodSeconds: 5
        volumeMounts:
        - name: conf
          mountPath: /etc/nginx/conf.d
      - name: exporter
        image: quay.io/prometheus/nginx-exporter:v1.3.0
        command: ["/usr/bin/exporter", "--scrape-uri=http://localhost/stub"]
      volumes:
      - name: conf
        configMap:
          name: nginx-conf
`

const configMapYAML = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: default
data:
  config.json: '{"log":{"level":"info"},"replicas":3,"big":12345678901234567890,"html":"<b>&</b>"}'
  config.yaml: |
    log:
      level: info
    servers:
    - a
    - b
  plain: hello
`

func mustObject(t testing.TB, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func raw(s string) policyv1alpha1.JSON { return policyv1alpha1.JSON{Raw: []byte(s)} }

// rules wraps overriders as the rules of one OverridePolicy default/test.
func rules(os ...policyv1alpha1.Overriders) Applicable {
	a := Applicable{Policy: PolicyRef{Kind: policyv1alpha1.ResourceKindOverridePolicy, Namespace: "default", Name: "test"}}
	for i := range os {
		a.Rules = append(a.Rules, Rule{Index: i, Overriders: &os[i]})
	}
	return a
}

func cop(name string, spec policyv1alpha1.OverrideSpec) *policyv1alpha1.ClusterOverridePolicy {
	return &policyv1alpha1.ClusterOverridePolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

func op(ns, name string, spec policyv1alpha1.OverrideSpec) *policyv1alpha1.OverridePolicy {
	return &policyv1alpha1.OverridePolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func memberCluster(name string, labels map[string]string, region string) *clusterv1alpha1.Cluster {
	return &clusterv1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: clusterv1alpha1.ClusterSpec{Region: region}}
}

// get reads a field by JSON pointer, failing the test if it is missing.
func get(t testing.TB, u *unstructured.Unstructured, path string) any {
	t.Helper()
	p, err := parsePointer(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.get(u.Object)
	if err != nil {
		t.Fatalf("get %s: %v", path, err)
	}
	return v
}

func has(u *unstructured.Unstructured, path string) bool {
	p, err := parsePointer(path)
	if err != nil {
		return false
	}
	_, err = p.get(u.Object)
	return err == nil
}

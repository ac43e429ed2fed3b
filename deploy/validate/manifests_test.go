package validate

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// tree is one kustomize tree under deploy/ and what must hold in it.
type tree struct {
	dir           string
	namespace     string   // every namespaced object's namespace ("" in the base)
	wantObjects   []string // sorted "apiVersion/kind name"
	wantEgress    []string // the nencds NetworkPolicy's egress, summarised by egressSummary
	wantRedis     bool     // the shared replay cache is wired
	minHPAReplica int32
}

var trees = []tree{
	{
		dir: "../base",
		wantObjects: []string{
			"apps/v1/Deployment nencds",
			"autoscaling/v2/HorizontalPodAutoscaler nencds",
			"networking.k8s.io/v1/NetworkPolicy nencds",
			"policy/v1/PodDisruptionBudget nencds",
			"v1/ConfigMap nencds-trust",
			"v1/Service nencds",
			"v1/ServiceAccount nencds",
		},
		wantEgress: []string{
			"to [ns{kubernetes.io/metadata.name=kube-system} pods{k8s-app=kube-dns}] ports [UDP/53 TCP/53]",
			"to [ip 192.0.2.10/32] ports [TCP/443]",
			"to [ip 192.0.2.20/32] ports [TCP/443]",
			"to [ns{kubernetes.io/metadata.name=observability} pods{app.kubernetes.io/name=opentelemetry-collector}] ports [TCP/4318]",
			"to [pods{app.kubernetes.io/name=nencds-redis}] ports [TCP/6379]",
			"to [ip 192.0.2.30/32] ports [TCP/5432]",
		},
		minHPAReplica: 2,
	},
	{
		dir:       "../overlays/production",
		namespace: "nencds",
		wantObjects: []string{
			"apps/v1/Deployment nencds",
			"apps/v1/Deployment nencds-redis",
			"autoscaling/v2/HorizontalPodAutoscaler nencds",
			"networking.k8s.io/v1/NetworkPolicy nencds",
			"networking.k8s.io/v1/NetworkPolicy nencds-redis",
			"policy/v1/PodDisruptionBudget nencds",
			"v1/ConfigMap nencds-trust",
			"v1/Namespace nencds",
			"v1/Service nencds",
			"v1/Service nencds-redis",
			"v1/ServiceAccount nencds",
		},
		wantEgress: []string{
			"to [ns{kubernetes.io/metadata.name=kube-system} pods{k8s-app=kube-dns}] ports [UDP/53 TCP/53]",
			"to [ip 198.51.100.10/32] ports [TCP/443]",
			"to [ip 198.51.100.20/32] ports [TCP/443]",
			"to [ns{kubernetes.io/metadata.name=observability} pods{app.kubernetes.io/name=opentelemetry-collector}] ports [TCP/4318]",
			"to [pods{app.kubernetes.io/name=nencds-redis}] ports [TCP/6379]",
			"to [ip 198.51.100.30/32] ports [TCP/5432]",
		},
		wantRedis:     true,
		minHPAReplica: 3,
	},
}

func render(t *testing.T, dir string) *Objects {
	t.Helper()
	o, err := Render(dir)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestTreesDecodeStrictly(t *testing.T) {
	t.Parallel()
	for _, tr := range trees {
		t.Run(tr.dir, func(t *testing.T) {
			t.Parallel()
			o := render(t, tr.dir)
			var got []string
			for _, s := range o.All {
				gvk, nsName, _ := strings.Cut(s, " ")
				ns, name, _ := strings.Cut(nsName, "/")
				if strings.HasPrefix(name, "nencds-trust-") {
					name = "nencds-trust" // generated name with its content hash
				}
				got = append(got, gvk+" "+name)
				if gvk != "v1/Namespace" && ns != tr.namespace {
					t.Errorf("%s: namespace %q, want %q", s, ns, tr.namespace)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff(tr.wantObjects, got); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestStrictDecodeCatchesMistakes proves the validator fails on the mistakes it exists for.
func TestStrictDecodeCatchesMistakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, manifest, wantErr string
	}{
		{
			name: "misspelt field",
			manifest: `apiVersion: v1
kind: Service
metadata: {name: x}
spec:
  selectr: {a: b}
  ports: [{port: 80}]
`,
			wantErr: `unknown field "selectr"`,
		},
		{
			name: "wrong type",
			manifest: `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: x}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: x}
  minReplicas: "two"
  maxReplicas: 3
`,
			wantErr: "minReplicas",
		},
		{
			name: "unknown kind",
			manifest: `apiVersion: batch/v1
kind: CronJob
metadata: {name: x}
spec: {}
`,
			wantErr: "batch/v1/CronJob is not one the validator knows",
		},
		{
			name: "bad quantity",
			manifest: `apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  selector: {matchLabels: {a: b}}
  template:
    metadata: {labels: {a: b}}
    spec:
      containers:
        - name: c
          image: i
          resources: {limits: {memory: 512 megs}}
`,
			wantErr: "quantities must match",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			write(t, filepath.Join(dir, "kustomization.yaml"), "resources: [obj.yaml]\n")
			write(t, filepath.Join(dir, "obj.yaml"), tc.manifest)
			_, err := Render(dir)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Render = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestPodSecurity(t *testing.T) {
	t.Parallel()
	for _, tr := range trees {
		t.Run(tr.dir, func(t *testing.T) {
			t.Parallel()
			o := render(t, tr.dir)
			if len(o.Deployments) == 0 {
				t.Fatal("no Deployment")
			}
			for _, d := range o.Deployments {
				checkPod(t, d)
			}
		})
	}
}

// checkPod asserts the restricted Pod Security Standard and resource bounds on every
// container of d.
func checkPod(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	p := d.Spec.Template.Spec
	where := "Deployment " + d.Name
	if p.HostNetwork || p.HostPID || p.HostIPC {
		t.Errorf("%s: host namespaces", where)
	}
	if p.AutomountServiceAccountToken == nil || *p.AutomountServiceAccountToken {
		t.Errorf("%s: automountServiceAccountToken must be false", where)
	}
	for _, v := range p.Volumes {
		if v.HostPath != nil {
			t.Errorf("%s: hostPath volume %s", where, v.Name)
		}
	}
	psc := p.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if len(p.InitContainers) > 0 {
		t.Errorf("%s: init containers are not checked; add them to the checks", where)
	}
	for _, c := range p.Containers {
		where := where + " container " + c.Name
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("%s: no securityContext", where)
			continue
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("%s: runAsNonRoot is not true", where)
		}
		uid := sc.RunAsUser
		if uid == nil {
			uid = psc.RunAsUser
		}
		if uid == nil || *uid == 0 {
			t.Errorf("%s: runAsUser must be a non-zero uid", where)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("%s: readOnlyRootFilesystem is not true", where)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation is not false", where)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("%s: privileged", where)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities must drop ALL and add none: %+v", where, sc.Capabilities)
		}
		seccomp := sc.SeccompProfile
		if seccomp == nil {
			seccomp = psc.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Errorf("%s: seccompProfile must be RuntimeDefault", where)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[res]
			lim, okLim := c.Resources.Limits[res]
			switch {
			case !okReq || !okLim:
				t.Errorf("%s: %s request and limit are both required", where, res)
			case req.Cmp(lim) > 0:
				t.Errorf("%s: %s request %s above limit %s", where, res, req.String(), lim.String())
			}
		}
		if c.ReadinessProbe == nil || c.LivenessProbe == nil {
			t.Errorf("%s: readiness and liveness probes are required", where)
		}
		if !strings.Contains(c.Image, ":") || strings.HasSuffix(c.Image, ":latest") {
			t.Errorf("%s: image %q must carry a tag other than latest", where, c.Image)
		}
		mounts := map[string]bool{}
		for _, v := range p.Volumes {
			mounts[v.Name] = true
		}
		for _, m := range c.VolumeMounts {
			if !mounts[m.Name] {
				t.Errorf("%s: mount %s names no volume", where, m.Name)
			}
		}
	}
}

func TestNencdsDeployment(t *testing.T) {
	t.Parallel()
	settings := nencdsSettings(t)
	for _, tr := range trees {
		t.Run(tr.dir, func(t *testing.T) {
			t.Parallel()
			o := render(t, tr.dir)
			d := deployment(t, o, "nencds")
			p := d.Spec.Template.Spec
			if len(p.Containers) != 1 {
				t.Fatalf("want one container, got %d", len(p.Containers))
			}
			c := p.Containers[0]
			env := envOf(c)

			// Every NENCDS_* variable and every flag is one the binary defines: a typo
			// would be silently ignored by the process.
			for name := range env {
				if strings.HasPrefix(name, "NENCDS_") && !settings.env[name] {
					t.Errorf("env %s is not a setting of cmd/nencds", name)
				}
			}
			flags := map[string]string{}
			for _, a := range c.Args {
				name, value, ok := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !strings.HasPrefix(a, "-") || !ok {
					t.Errorf("arg %q: want -flag=value", a)
					continue
				}
				if !settings.flags[name] {
					t.Errorf("flag -%s is not a flag of cmd/nencds", name)
				}
				flags[name] = value
			}

			// Listen address and probes on the declared port, over TLS.
			_, port, _ := strings.Cut(env["NENCDS_ADDR"], ":")
			var httpsPort *corev1.ContainerPort
			for i := range c.Ports {
				if fmt.Sprint(c.Ports[i].ContainerPort) == port {
					httpsPort = &c.Ports[i]
				}
			}
			if httpsPort == nil {
				t.Fatalf("NENCDS_ADDR %q listens on no declared container port", env["NENCDS_ADDR"])
			}
			for name, pr := range map[string]struct {
				probe *corev1.Probe
				path  string
			}{"readiness": {c.ReadinessProbe, "/readyz"}, "liveness": {c.LivenessProbe, "/healthz"}, "startup": {c.StartupProbe, "/healthz"}} {
				if pr.probe == nil || pr.probe.HTTPGet == nil {
					t.Errorf("%s probe: want httpGet", name)
					continue
				}
				g := pr.probe.HTTPGet
				if g.Path != pr.path || g.Port.String() != httpsPort.Name || g.Scheme != corev1.URISchemeHTTPS {
					t.Errorf("%s probe: %s %s %s, want HTTPS %s on port %s", name, g.Scheme, g.Path, g.Port.String(), pr.path, httpsPort.Name)
				}
			}

			// The trust file: a read-only mount of the rendered ConfigMap, a valid trust
			// configuration whose public_url is the service's.
			trustVol := volumeAt(t, p, c, env["NENCDS_TRUST_FILE"])
			if trustVol.ConfigMap == nil {
				t.Fatalf("NENCDS_TRUST_FILE is not on a ConfigMap volume")
			}
			cm := configMap(t, o, trustVol.ConfigMap.Name)
			data, ok := cm.Data[filepath.Base(env["NENCDS_TRUST_FILE"])]
			if !ok {
				t.Fatalf("ConfigMap %s has no key %s", cm.Name, filepath.Base(env["NENCDS_TRUST_FILE"]))
			}
			checkTrustFile(t, data, env["NENCDS_PUBLIC_URL"])

			// TLS: certificate and key from a read-only Secret mount.
			for _, f := range []string{"tls-cert", "tls-key"} {
				if flags[f] == "" {
					t.Errorf("-%s is not set", f)
					continue
				}
				if v := volumeAt(t, p, c, flags[f]); v.Secret == nil {
					t.Errorf("-%s %s is not on a Secret volume", f, flags[f])
				}
			}

			// The store: its URL (with the database password) and the pseudonym key come
			// from a Secret, never from a literal value in a manifest.
			for _, name := range []string{"NENCDS_DB", "NENCDS_PSEUDONYM_KEY"} {
				var ref *corev1.SecretKeySelector
				for _, e := range c.Env {
					if e.Name == name && e.ValueFrom != nil {
						ref = e.ValueFrom.SecretKeyRef
					}
				}
				if ref == nil || ref.Name == "" || ref.Key == "" || env[name] != "" {
					t.Errorf("env %s must come from a Secret (secretKeyRef)", name)
				}
			}

			// Telemetry by the standard variables.
			for _, k := range []string{"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_METRICS_EXPORTER"} {
				if _, ok := env[k]; !ok {
					t.Errorf("env %s is not set", k)
				}
			}

			// The shared replay cache.
			if _, ok := env["NENCDS_REDIS_URL"]; ok != tr.wantRedis {
				t.Errorf("NENCDS_REDIS_URL set = %v, want %v", ok, tr.wantRedis)
			}
			if tr.wantRedis {
				deployment(t, o, "nencds-redis")
				if !strings.Contains(env["NENCDS_REDIS_URL"], "@nencds-redis:6379") {
					t.Errorf("NENCDS_REDIS_URL %q does not name the nencds-redis Service", env["NENCDS_REDIS_URL"])
				}
			}

			// Drain: the grace period covers the preStop pause and -shutdown-timeout.
			drain, err := time.ParseDuration(env["NENCDS_SHUTDOWN_TIMEOUT"])
			if err != nil {
				t.Fatalf("NENCDS_SHUTDOWN_TIMEOUT: %v", err)
			}
			var pause time.Duration
			if c.Lifecycle != nil && c.Lifecycle.PreStop != nil && c.Lifecycle.PreStop.Sleep != nil {
				pause = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
			}
			if p.TerminationGracePeriodSeconds == nil || time.Duration(*p.TerminationGracePeriodSeconds)*time.Second <= pause+drain {
				t.Errorf("terminationGracePeriodSeconds must exceed preStop %s + drain %s", pause, drain)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("the Deployment sets replicas; the HPA owns the count")
			}
		})
	}
}

func TestSelectorsAndScaling(t *testing.T) {
	t.Parallel()
	for _, tr := range trees {
		t.Run(tr.dir, func(t *testing.T) {
			t.Parallel()
			o := render(t, tr.dir)
			pods := map[string]labels.Set{}
			for _, d := range o.Deployments {
				tmpl := labels.Set(d.Spec.Template.Labels)
				pods[d.Name] = tmpl
				if d.Spec.Selector == nil || !labels.SelectorFromSet(d.Spec.Selector.MatchLabels).Matches(tmpl) || len(d.Spec.Selector.MatchExpressions) > 0 {
					t.Errorf("Deployment %s: selector does not match its pod template labels", d.Name)
				}
			}
			// selects reports which Deployments' pods a label set selects.
			selects := func(sel map[string]string) []string {
				var out []string
				for name, l := range pods {
					if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(l) {
						out = append(out, name)
					}
				}
				sort.Strings(out)
				return out
			}
			for _, s := range o.Services {
				if got := selects(s.Spec.Selector); !slices.Equal(got, []string{s.Name}) {
					t.Errorf("Service %s selects %v, want exactly [%s]", s.Name, got, s.Name)
				}
				for _, port := range s.Spec.Ports {
					if !containerHasPort(deployment(t, o, s.Name), port.TargetPort.String()) {
						t.Errorf("Service %s: targetPort %s is no container port", s.Name, port.TargetPort.String())
					}
				}
			}
			for _, np := range o.NetworkPolicies {
				if got := selects(np.Spec.PodSelector.MatchLabels); !slices.Equal(got, []string{np.Name}) {
					t.Errorf("NetworkPolicy %s selects %v, want exactly [%s]", np.Name, got, np.Name)
				}
			}
			if len(o.HPAs) != 1 || len(o.PDBs) != 1 {
				t.Fatalf("want one HPA and one PDB, got %d and %d", len(o.HPAs), len(o.PDBs))
			}
			hpa, pdb := o.HPAs[0], o.PDBs[0]
			ref := hpa.Spec.ScaleTargetRef
			if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || pods[ref.Name] == nil {
				t.Errorf("HPA scales %s %s %s, which is not a rendered Deployment", ref.APIVersion, ref.Kind, ref.Name)
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != tr.minHPAReplica || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
				t.Errorf("HPA bounds %v..%d, want min %d <= max", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas, tr.minHPAReplica)
			}
			if len(hpa.Spec.Metrics) == 0 {
				t.Errorf("HPA has no metric")
			}
			if got := selects(pdb.Spec.Selector.MatchLabels); !slices.Equal(got, []string{"nencds"}) {
				t.Errorf("PDB selects %v, want [nencds]", got)
			}
			// A budget that keeps every minimum replica would block node drains forever.
			if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*hpa.Spec.MinReplicas) || pdb.Spec.MinAvailable.IntValue() < 1 {
				t.Errorf("PDB minAvailable %v must be at least 1 and below the HPA minimum %d", pdb.Spec.MinAvailable, *hpa.Spec.MinReplicas)
			}
		})
	}
}

func TestNetworkPolicyEgress(t *testing.T) {
	t.Parallel()
	for _, tr := range trees {
		t.Run(tr.dir, func(t *testing.T) {
			t.Parallel()
			o := render(t, tr.dir)
			np := networkPolicy(t, o, "nencds")
			if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				t.Errorf("policyTypes %v: want Ingress and Egress", np.Spec.PolicyTypes)
			}
			var got []string
			for i, r := range np.Spec.Egress {
				// An empty to or ports list means "anywhere" or "any port".
				if len(r.To) == 0 || len(r.Ports) == 0 {
					t.Errorf("egress rule %d is open (to or ports empty)", i)
				}
				got = append(got, egressSummary(r))
			}
			if diff := cmp.Diff(tr.wantEgress, got); diff != "" {
				t.Errorf("egress (-want +got):\n%s", diff)
			}
			for i, r := range np.Spec.Ingress {
				if len(r.Ports) == 0 {
					t.Errorf("ingress rule %d allows every port", i)
				}
			}
			if tr.wantRedis {
				rp := networkPolicy(t, o, "nencds-redis")
				if len(rp.Spec.Egress) != 0 || !slices.Contains(rp.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
					t.Errorf("Redis must have no egress")
				}
				if len(rp.Spec.Ingress) != 1 || len(rp.Spec.Ingress[0].From) != 1 ||
					!labels.SelectorFromSet(rp.Spec.Ingress[0].From[0].PodSelector.MatchLabels).Matches(labels.Set(deployment(t, o, "nencds").Spec.Template.Labels)) {
					t.Errorf("Redis ingress must come from the nencds pods only: %+v", rp.Spec.Ingress)
				}
			}
		})
	}
}

func TestProductionNamespaceEnforcesRestricted(t *testing.T) {
	t.Parallel()
	o := render(t, "../overlays/production")
	if len(o.Namespaces) != 1 {
		t.Fatalf("want one Namespace, got %d", len(o.Namespaces))
	}
	if got := o.Namespaces[0].Labels["pod-security.kubernetes.io/enforce"]; got != "restricted" {
		t.Errorf("pod-security enforce = %q, want restricted", got)
	}
}

// egressSummary renders one egress rule as "to [peers] ports [proto/port ...]".
func egressSummary(r networkingv1.NetworkPolicyEgressRule) string {
	var peers, ports []string
	for _, p := range r.To {
		var parts []string
		if p.IPBlock != nil {
			parts = append(parts, "ip "+p.IPBlock.CIDR)
			if len(p.IPBlock.Except) > 0 {
				parts = append(parts, "except "+strings.Join(p.IPBlock.Except, ","))
			}
		}
		if p.NamespaceSelector != nil {
			parts = append(parts, "ns{"+labels.Set(p.NamespaceSelector.MatchLabels).String()+"}")
		}
		if p.PodSelector != nil {
			parts = append(parts, "pods{"+labels.Set(p.PodSelector.MatchLabels).String()+"}")
		}
		peers = append(peers, strings.Join(parts, " "))
	}
	for _, p := range r.Ports {
		proto := "TCP"
		if p.Protocol != nil {
			proto = string(*p.Protocol)
		}
		port := "any"
		if p.Port != nil {
			port = p.Port.String()
		}
		ports = append(ports, proto+"/"+port)
	}
	return "to [" + strings.Join(peers, ", ") + "] ports [" + strings.Join(ports, " ") + "]"
}

// trustFile mirrors the trust file shape of hooks/auth (File, ClientConfig). The validator
// is a separate module and does not import nencds (its go.mod would have to follow every
// change of the main one), so the shape is repeated here and decoded strictly: a field
// renamed in hooks/auth shows up as an unknown field in this test.
type trustFile struct {
	PublicURL string `json:"public_url"`
	Clients   []struct {
		Issuer      string         `json:"iss"`
		JWKSURL     string         `json:"jwks_url,omitempty"`
		JWKS        map[string]any `json:"jwks,omitempty"`
		JKUAllowed  []string       `json:"jku_allowed,omitempty"`
		Tenant      string         `json:"tenant,omitempty"`
		Algorithms  []string       `json:"algorithms,omitempty"`
		FHIRServers []string       `json:"fhir_servers,omitempty"`
	} `json:"clients"`
}

func checkTrustFile(t *testing.T, data, publicURL string) {
	t.Helper()
	var f trustFile
	if err := yaml.UnmarshalStrict([]byte(data), &f); err != nil {
		t.Fatalf("trust file: %v", err)
	}
	if f.PublicURL != strings.TrimRight(publicURL, "/") {
		t.Errorf("trust public_url %q != NENCDS_PUBLIC_URL %q", f.PublicURL, publicURL)
	}
	if len(f.Clients) == 0 {
		t.Errorf("trust file: no client")
	}
	https := func(what, u string) {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("trust file: %s %q is not https", what, u)
		}
	}
	https("public_url", f.PublicURL)
	for _, c := range f.Clients {
		https("iss", c.Issuer)
		if (c.JWKSURL == "") == (c.JWKS == nil) {
			t.Errorf("trust file: client %s needs exactly one of jwks_url and jwks", c.Issuer)
		}
		if c.JWKSURL != "" {
			https("jwks_url", c.JWKSURL)
		}
		for _, u := range c.FHIRServers {
			https("fhir_servers", u)
		}
		for _, a := range c.Algorithms {
			if strings.HasPrefix(a, "HS") || a == "none" {
				t.Errorf("trust file: algorithm %s is forbidden by CDS Hooks", a)
			}
		}
	}
}

type cmdSettings struct{ env, flags map[string]bool }

// nencdsSettings reads the flag and NENCDS_* names that cmd/nencds defines, from its source
// (rows of the form {"flag", "NENCDS_ENV", ...}).
func nencdsSettings(t *testing.T) cmdSettings {
	t.Helper()
	files, err := filepath.Glob("../../cmd/nencds/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("cmd/nencds sources not found (%v)", err)
	}
	row := regexp.MustCompile(`\{"([a-z0-9-]+)",\s*"(NENCDS_[A-Z0-9_]+)"`)
	s := cmdSettings{env: map[string]bool{}, flags: map[string]bool{}}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range row.FindAllStringSubmatch(string(src), -1) {
			s.flags[m[1]] = true
			s.env[m[2]] = true
		}
	}
	for _, must := range []string{"NENCDS_ADDR", "NENCDS_TRUST_FILE", "NENCDS_PUBLIC_URL", "NENCDS_REDIS_URL", "NENCDS_SHUTDOWN_TIMEOUT"} {
		if !s.env[must] {
			t.Fatalf("cmd/nencds no longer defines %s (or its settings table changed shape); update the manifests and this parser", must)
		}
	}
	return s
}

func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

// volumeAt returns the volume mounted read-only in c at a directory holding path.
func volumeAt(t *testing.T, p corev1.PodSpec, c corev1.Container, path string) corev1.Volume {
	t.Helper()
	if path == "" {
		t.Fatalf("empty path")
	}
	for _, m := range c.VolumeMounts {
		if strings.HasPrefix(path, strings.TrimRight(m.MountPath, "/")+"/") {
			if !m.ReadOnly {
				t.Errorf("mount %s of %s is not readOnly", m.MountPath, path)
			}
			for _, v := range p.Volumes {
				if v.Name == m.Name {
					return v
				}
			}
		}
	}
	t.Fatalf("%s is under no volume mount", path)
	return corev1.Volume{}
}

func containerHasPort(d *appsv1.Deployment, port string) bool {
	for _, c := range d.Spec.Template.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
				return true
			}
		}
	}
	return false
}

func deployment(t *testing.T, o *Objects, name string) *appsv1.Deployment {
	t.Helper()
	for _, d := range o.Deployments {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no Deployment %s", name)
	return nil
}

func networkPolicy(t *testing.T, o *Objects, name string) *networkingv1.NetworkPolicy {
	t.Helper()
	for _, np := range o.NetworkPolicies {
		if np.Name == name {
			return np
		}
	}
	t.Fatalf("no NetworkPolicy %s", name)
	return nil
}

func configMap(t *testing.T, o *Objects, name string) *corev1.ConfigMap {
	t.Helper()
	for _, cm := range o.ConfigMaps {
		if cm.Name == name {
			return cm
		}
	}
	t.Fatalf("no ConfigMap %s (a volume names a ConfigMap the tree does not render)", name)
	return nil
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Package validate renders nencds's kustomize trees (deploy/base, deploy/overlays/*) with the
// kustomize library and decodes every object strictly into the Kubernetes API types, so CI
// rejects a misspelt field, a wrong type or an unknown kind before any cluster sees it; its
// tests then assert the security and wiring properties of the rendered objects. It is a
// separate Go module so that the Kubernetes dependencies stay out of the nencds module.
package validate

import (
	"bytes"
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Objects is one rendered kustomize tree, decoded into the API types, by kind.
type Objects struct {
	Namespaces      []*corev1.Namespace
	ServiceAccounts []*corev1.ServiceAccount
	ConfigMaps      []*corev1.ConfigMap
	Services        []*corev1.Service
	Deployments     []*appsv1.Deployment
	HPAs            []*autoscalingv2.HorizontalPodAutoscaler
	PDBs            []*policyv1.PodDisruptionBudget
	NetworkPolicies []*networkingv1.NetworkPolicy
	// All lists every object's "apiVersion/kind namespace/name" in render order.
	All []string
}

// kinds maps each accepted apiVersion/kind to a decoder that appends the object to Objects.
// A kind outside this list is an error: adding one to the manifests means adding it here,
// with its checks.
var kinds = map[string]func(o *Objects, data []byte) (string, string, error){
	"v1/Namespace": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.Namespaces)
	},
	"v1/ServiceAccount": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.ServiceAccounts)
	},
	"v1/ConfigMap": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.ConfigMaps)
	},
	"v1/Service": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.Services)
	},
	"apps/v1/Deployment": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.Deployments)
	},
	"autoscaling/v2/HorizontalPodAutoscaler": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.HPAs)
	},
	"policy/v1/PodDisruptionBudget": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.PDBs)
	},
	"networking.k8s.io/v1/NetworkPolicy": func(o *Objects, d []byte) (string, string, error) {
		return decodeInto(d, &o.NetworkPolicies)
	},
}

// named is what every API object offers for error messages.
type named interface {
	GetName() string
	GetNamespace() string
}

// decodeInto decodes one JSON object strictly (unknown fields are errors) into a new T and
// appends it to *list.
func decodeInto[T any, PT interface {
	*T
	named
}](data []byte, list *[]PT) (string, string, error) {
	obj := PT(new(T))
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		return "", "", err
	}
	*list = append(*list, obj)
	return obj.GetNamespace(), obj.GetName(), nil
}

// Render builds the kustomization in dir (a path on disk) and decodes every object strictly.
func Render(dir string) (*Objects, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	o := &Objects{}
	for _, r := range rm.Resources() {
		data, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := json.Unmarshal(data, &head); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", dir, r.CurId(), err)
		}
		gvk := head.APIVersion + "/" + head.Kind
		decode, ok := kinds[gvk]
		if !ok {
			return nil, fmt.Errorf("%s: %s: kind %s is not one the validator knows; add it to kinds with its checks", dir, r.CurId(), gvk)
		}
		ns, name, err := decode(o, data)
		if err != nil {
			return nil, fmt.Errorf("%s: %s %s: strict decode: %w", dir, gvk, r.GetName(), err)
		}
		o.All = append(o.All, gvk+" "+ns+"/"+name)
	}
	return o, nil
}

# nencds developer targets; CI (.ci/run) runs the same commands (race tests, vet, gofmt,
# deploy/validate). `make help` lists them.

GO        ?= go
PKGS      ?= ./...
C         ?= 8
D         ?= 60s
FALLBACK  ?= 50ms
IMAGE     ?= nencds:dev
# Packages whose tests define the -update flag (golden files); others would reject it.
GOLDEN_PKGS = $(sort $(patsubst %/,%,$(dir $(shell grep -rl --include=*_test.go 'flag\.Bool."update"' . 2>/dev/null))))

.PHONY: help test race vet fmt lint bench golden load load-fallback deploy-validate image ci

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -e 's/:.*## /\t/'

test: ## run every test
	$(GO) test $(PKGS)

race: ## run every test with the race detector (as CI does)
	$(GO) test -race -count=1 $(PKGS)

vet: ## go vet
	$(GO) vet $(PKGS)

fmt: ## rewrite the Go files with gofmt
	gofmt -w $$(git ls-files '*.go')

lint: vet ## gofmt check (fails on any unformatted file) and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

bench: ## benchmarks with allocations (mapping, rules, the whole handler)
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

golden: ## refresh the golden files (then review the diff)
	$(GO) test $(GOLDEN_PKGS) -update

load: ## load nencds (in process, dev mode) and the floor: C clients for D
	$(GO) run ./cmd/nencds-load -spawn -c $(C) -d $(D)

load-fallback: ## load with every prefetch key fetched from a fake FHIR server (FALLBACK per query)
	$(GO) run ./cmd/nencds-load -spawn -fallback $(FALLBACK) -c $(C) -d $(D) -floor=false

deploy-validate: ## render deploy/ with kustomize and check it against the Kubernetes API types
	cd deploy/validate && $(GO) test -count=1 ./...

image: ## build the container image (needs Docker with BuildKit)
	DOCKER_BUILDKIT=1 docker build -f deploy/Dockerfile -t $(IMAGE) .

ci: lint race deploy-validate ## what .ci/run checks (without its service set-up)

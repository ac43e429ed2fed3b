# nencds developer targets; CI (.ci/run) runs the same commands (race tests, vet, gofmt,
# deploy/validate). `make help` lists them.

GO        ?= go
PKGS      ?= ./...
C         ?= 8
D         ?= 60s
FALLBACK  ?= 50ms
ROUNDS    ?= 3
# The store of the spawned server: sqlite (a temporary file, as nencds -dev), sqlite:PATH or memory.
DB        ?= sqlite
COUNT     ?= 1
# The ~50-resource request of the throughput target; 'testdata/requests/*.json' for all.
REQUESTS  ?= testdata/requests/perf-50-resources.json
PROF      ?= $(or $(TMPDIR),/tmp)/nencds-handler
IMAGE     ?= nencds:dev

.PHONY: help test race vet fmt lint bench profile golden load load-fallback load-memory deploy-validate image ci

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

lint: vet ## gofmt check (fails on any unformatted file), go vet and staticcheck (pinned in go.mod)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) tool staticcheck $(PKGS)

bench: ## benchmarks with allocations (mapping, rules, the whole handler, JSON fast paths); COUNT=10 for benchstat
	$(GO) test -run '^$$' -bench . -benchmem -count $(COUNT) $(PKGS)

profile: ## CPU profile of the whole handler with the largest request; prints the top 30
	$(GO) test -run '^$$' -bench 'BenchmarkHandler$$' -benchtime 4s -cpuprofile $(PROF).prof -o $(PROF).test ./hooks
	$(GO) tool pprof -top -nodecount 30 $(PROF).test $(PROF).prof

golden: ## refresh the golden files (then review the diff; on a clean tree it changes nothing)
	$(GO) test $(PKGS) -update

load: ## nencds (in process, dev mode, telemetry on, store DB) vs the floor in ROUNDS alternations: C clients, D each, REQUESTS
	$(GO) run ./cmd/nencds-load -spawn -db $(DB) -c $(C) -d $(D) -rounds $(ROUNDS) -requests '$(REQUESTS)'

load-fallback: ## every prefetch key fetched from a fake FHIR server waiting FALLBACK per query; p50 / one query
	$(GO) run ./cmd/nencds-load -spawn -fallback $(FALLBACK) -c $(C) -d $(D) -rounds 1 -floor=false -requests '$(REQUESTS)'

load-memory: ## live heap and RSS every 10 s through D of load, after a 60 s warm-up that fills the bounded caches
	$(GO) run ./cmd/nencds-load -spawn -floor=false -warmup 60s -c $(C) -d $(D) -rounds 1 -requests '$(REQUESTS)'

deploy-validate: ## render deploy/ with kustomize and check it against the Kubernetes API types
	cd deploy/validate && $(GO) test -count=1 ./...

image: ## build the container image (needs Docker with BuildKit)
	DOCKER_BUILDKIT=1 docker build -f deploy/Dockerfile -t $(IMAGE) .

ci: lint race deploy-validate ## what .ci/run checks (without its service set-up)

# tern: run `./ternw <recipe>` (the wrapper puts deno and just on PATH).
set shell := ["bash", "-euo", "pipefail", "-c"]

deno := "deno"

# List the recipes.
default:
    @just --list

# Run the demo (prints the inspection URL of every process it starts).
demo *ARGS:
    {{deno}} run -P=demo roles/demo.ts {{ARGS}}

# The simulated cluster, as root: `just sim up [--nodes N]`, `just sim status`, `just sim down PREFIX|--all`.
sim *ARGS:
    {{deno}} run -P=sim roles/sim.ts {{ARGS}}

# The whole suite: format, lint, type check, then every test. CI runs exactly this.
test: fmt-check lint check
    {{deno}} task test

# Tests whose file names match a pattern, e.g. `just test-only runtime`.
test-only PATTERN:
    {{deno}} test -A --sanitize-ops --sanitize-resources tests/ --filter '{{PATTERN}}'

fmt:
    {{deno}} fmt

fmt-check:
    {{deno}} fmt --check

lint:
    {{deno}} lint

check:
    {{deno}} task check

# Benchmarks, side by side with the reference tools; results go to stdout.
bench *NAMES:
    {{deno}} run -A bench/run_all.ts {{NAMES}}

# Start one role with the same permission set its compiled binary gets.
run ROLE *ARGS:
    {{deno}} run -P={{ROLE}} roles/{{ROLE}}.ts {{ARGS}}

# Compile every role into dist/ (needs internet access for the Deno runtime binary).
build:
    for role in controller agent speaker cni ctl; do {{deno}} task compile:$role; done

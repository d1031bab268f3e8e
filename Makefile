# Two commands do all the set-up on a fresh machine with Python 3.11+:
#   make run    installs the service into .venv and starts it on a SQLite file (router.db), port 8082
#   make test   installs it with the test tools and runs the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test install install-dev browser tools axe idp deploy-tools lb-tools lint typecheck bench soak-lb param-table clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	$(BIN)/router serve

# Browser tests drive Debian's chromium; install it when missing and we may (root), else they say why they skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "chromium is not installed: browser tests will skip (apt-get install chromium)"; }

# The real Claude Code CLI, for the end-to-end test that drives it through the router (needs npm).
CLAUDE_CODE_VERSION ?= 2.1.332
tools:
	@[ -x .tools/node_modules/.bin/claude ] || { command -v npm >/dev/null 2>&1 && \
	  npm install --silent --no-audit --no-fund --prefix .tools @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION) || \
	  echo "npm is not installed: the Claude Code CLI test will skip"; }

# axe-core (npm) for the admin page's accessibility checks in the browser tests.
AXE_CORE_VERSION ?= 4.14.1
axe:
	@[ -f .tools/node_modules/axe-core/axe.min.js ] || { command -v npm >/dev/null 2>&1 && \
	  npm install --silent --no-audit --no-fund --prefix .tools axe-core@$(AXE_CORE_VERSION) || \
	  echo "npm is not installed: the accessibility checks will skip"; }

# The test OpenID provider (panva's oidc-provider, tests/fakes/oidc) and tmux, which drives Claude Code's TUI.
idp:
	@[ -d tests/fakes/oidc/node_modules/oidc-provider ] || { command -v npm >/dev/null 2>&1 && \
	  npm ci --silent --no-audit --no-fund --prefix tests/fakes/oidc || \
	  echo "npm is not installed: the sign-in tests will skip"; }
	@command -v tmux >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null) || \
	  echo "tmux is not installed: the Claude Code sign-in test will skip (apt-get install tmux)"; }

# Debian's docker-compose (`config` checks deploy/compose.yaml without an engine) and kubectl (`kustomize`
# renders deploy/kubernetes; it ships with this machine image, Debian's kubernetes-client elsewhere).
deploy-tools:
	@command -v docker-compose >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null) || \
	  echo "docker-compose is not installed: the compose checks will skip (apt-get install docker-compose)"; }
	@command -v kubectl >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null) || \
	  echo "kubectl is not installed: the Kubernetes manifest checks will skip"; }

# HAProxy (Debian's package) in front of three replicas: tests/deploy/test_lb_soak.py and `make soak-lb`.
lb-tools:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { [ "$$(id -u)" = 0 ] && \
	  command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null) || \
	  echo "haproxy is not installed: the load-balancer soak will skip (apt-get install haproxy)"; }

test: install-dev browser tools axe idp deploy-tools lb-tools
	$(BIN)/python -m pytest -q -n 3 --dist loadfile --durations=30

lint:
	$(BIN)/python -m ruff check router tests bench
	$(BIN)/python -m ruff format --check router tests bench
	$(BIN)/python -m mypy router tests bench

# LiteLLM's parameter knowledge for OpenAI-wire targets, regenerated from the installed LiteLLM (after a
# LiteLLM upgrade; tests/providers/test_param_table.py fails until it is).
param-table:
	$(BIN)/python -m router.providers.param_table_build

bench: install-dev
	$(BIN)/python -m bench.run

# Three replicas behind HAProxy through rolling restarts, a kill -9 and a PostgreSQL restart (3-4 minutes).
soak-lb: install-dev lb-tools
	$(BIN)/python -m bench.lb_soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache router.egg-info

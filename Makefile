.SECONDEXPANSION:
# The README's two commands: `make demo` and `make test`. Both set up a fresh Debian 12 machine by
# themselves (run as root): system packages, the .venv, the ROS 2 interface packages. Idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Debian 12's own python3.11 where it is (built with profile-guided and link-time optimization: the fast mode's day in 0.84
# of the CPU of an unoptimized 3.11 that a PATH may put first, docs/simulation-speed.md), else the PATH's python3
PYTHON3 ?= $(firstword $(wildcard /usr/bin/python3.11) python3)
# Debian packages the project needs; each part appends what it uses.
APT_PACKAGES := cmake g++ make ignition-tools libsdformat-dev fonts-noto-cjk
# the VDA 5050 MQTT link's tests and `xborder agents --mqtt` start their own broker
APT_PACKAGES += mosquitto
# the dispatcher console's browser tests (tests/test_console*.py, Playwright with executable_path)
APT_PACKAGES += chromium
# the store's PostgreSQL tests start their own server (initdb/pg_ctl in a temporary folder)
APT_PACKAGES += postgresql
# the fleet benchmark's closed-loop API load (tests/bench/bench_fleet.py): a C client, not Python on the same cores
APT_PACKAGES += wrk
MAP ?= maps/bac_luan_ii
OUT ?= out
DURATION ?=

.PHONY: demo test bench lint setup system-deps interfaces clean

# The whole system live until Ctrl-C (`make demo DURATION=S`: S seconds, then a summary); docs/operations.md.
demo: setup
	$(VENV)/bin/xborder map validate $(MAP)
	$(VENV)/bin/xborder map render $(MAP) --out $(OUT)/corridor.png
	@echo "corridor picture: $(OUT)/corridor.png"
	$(VENV)/bin/xborder demo --map $(MAP)$(if $(DURATION), --duration $(DURATION))

# Five streams side by side, because most of their time is spent waiting on simulated vehicles moving in real
# time or on benchmark windows: the long end-to-end run; the failover run (also long) with the benchmarks' quick
# runs; the other real-time runs (end-to-end, demo, browser); the vehicles' real processes over DDS and MQTT; the
# rest of the suite. The rest reports first, then the others; any stream failing fails the target. Each stream's
# ROS 2 tests have domain ids of their own (tests/*/conftest.py; the two long runs: tests/e2e/conftest.py).
REALTIME_TESTS := tests/e2e tests/demo $(wildcard tests/test_console*.py)
PROCESS_TESTS := tests/ros tests/mqtt tests/sim/test_ros_mode.py
FAILOVER_TEST := tests/e2e/test_failover_e2e.py
PYTEST := $(VENV)/bin/pytest -q
test: setup
	@mkdir -p $(OUT)
	@to_log() { name=$$1; shift; "$$@" > $(OUT)/test-$$name.log 2>&1; }; \
	XBORDER_E2E_ROS_DOMAIN=190 to_log long $(PYTEST) -m long --ignore=$(FAILOVER_TEST) & long=$$!; \
	XBORDER_E2E_ROS_DOMAIN=191 to_log failover+bench $(PYTEST) $(FAILOVER_TEST) tests/bench & failover=$$!; \
	to_log realtime $(PYTEST) --durations=10 -m "not long" $(REALTIME_TESTS) & realtime=$$!; \
	to_log processes $(PYTEST) --durations=10 -m "not long" $(PROCESS_TESTS) & processes=$$!; \
	$(PYTEST) --durations=15 -m "not long" $(addprefix --ignore=,$(REALTIME_TESTS) $(PROCESS_TESTS) tests/bench); \
	rc=$$?; \
	for stream in processes:$$processes realtime:$$realtime failover+bench:$$failover long:$$long; do \
	  wait $${stream#*:}; stream_rc=$$?; [ $$rc -ne 0 ] || rc=$$stream_rc; \
	  echo "== the $${stream%%:*} stream"; cat $(OUT)/test-$${stream%%:*}.log; \
	done; exit $$rc

bench: setup
	@for f in tests/bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# ruff and mypy as pyproject.toml configures them (not part of `make test`); the venv gets the `lint` extra first
# when either tool is missing.
lint: $(VENV)/.installed
	@test -x $(VENV)/bin/ruff -a -x $(VENV)/bin/mypy || $(PIP) install -q -e '.[lint]'
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy planner fleet sim

setup: system-deps $(VENV)/.installed interfaces

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml ros_ws/src/agv_agent/setup.py
	@$(PYTHON3) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || \
	  { echo "ROS 2 Kilted wheels need Python 3.11 (Debian 12's python3); $(PYTHON3) is not"; exit 1; }
	@$(PYTHON3) -c 'import ensurepip, venv' 2>/dev/null || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv python3-dev; }
	test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[ros-build,test]' -e ros_ws/src/agv_agent
	touch $@

# ROS 2 interface packages, built with plain CMake into the venv (../shared/ROS2.md).
ROS_INTERFACE_PKGS := $(notdir $(wildcard ros_ws/src/*_interfaces))
interfaces: $(foreach p,$(ROS_INTERFACE_PKGS),build/$(p)/.installed)

build/%/.installed: $(VENV)/.installed $$(shell find ros_ws/src/% -type f 2>/dev/null)
	mkdir -p build && export PATH=$(CURDIR)/$(VENV)/bin:$$PATH AMENT_PREFIX_PATH=$(CURDIR)/$(VENV) && \
	cmake -S ros_ws/src/$* -B build/$* -DCMAKE_INSTALL_PREFIX=$(CURDIR)/$(VENV) -DBUILD_TESTING=OFF \
	  -DPython3_EXECUTABLE=$(CURDIR)/$(PY) >build/$*.log 2>&1 && \
	cmake --build build/$* -j2 >>build/$*.log 2>&1 && cmake --install build/$* >>build/$*.log 2>&1 \
	  || { tail -40 build/$*.log; exit 1; }
	touch $@

clean:
	rm -rf build $(OUT)

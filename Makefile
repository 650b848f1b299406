# Descent — build, demo, test, bench.
#
#   make          build build/lib/libdescent.so and the embedded-Python test runner
#   make demo     build, then run the worked examples (textbook GD from C and Python, a trained
#                 classifier, vanishing/exploding activations, the step-size sweep, eight optimizers
#                 on handwritten digits, optimizer paths on Rosenbrock, random restarts; PNGs in
#                 build/demo/)
#   make test     build, then run every suite: Swift, ABI check, C, Python (embedded and stock)
#   make bench    benchmarks (ratios against NumPy measured in the same run; the MLP's time per step
#                 on 1 and 2 MPI ranks and its share in communication)
#   make install  PREFIX=/usr/local (default): the library with its soname links, descent.h,
#                 descent.pc (pkg-config) and a CMake package (find_package(descent));
#                 DESTDIR stages; `make uninstall` (same PREFIX) removes exactly those files
#   make stress   the Reliability figures (scripts/stress.sh; ~10-15 min, DESCENT_STRESS_QUICK=1 ~2 min);
#                 make stress-self-test runs each with a planted fault and passes when all fail
#
# Every target first runs scripts/ensure-deps.sh, which installs OpenBLAS / NumPy / pytest when
# missing and returns at once when they are present; demo and test also run it with --demo
# (scikit-learn, matplotlib, tqdm). DESCENT_NO_INSTALL=1 turns installing off.

SHELL         = /bin/bash
SWIFT        ?= swift
PYTHON       ?= python3
CC           ?= cc
RELEASE_FLAGS = -c release -Xswiftc -static-stdlib
BUILD_DIR     = build
LIB           = $(BUILD_DIR)/lib/libdescent.so
RUNNER        = $(BUILD_DIR)/bin/descent-pyrunner
PYTHON_INCLUDE := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
ACCEL         = python/descent/_accel$(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
CFLAGS_TEST   = -std=c11 -O2 -Wall -Wextra -Werror -Iinclude
C_TESTS       = $(patsubst Tests/c/%.c,$(BUILD_DIR)/c/%,$(wildcard Tests/c/*.c))
# The stress programs' shared plumbing, which Tests/c/test_reliability.c includes too.
STRESS_HEADERS = $(wildcard Tests/stress/*.h)
C_EXAMPLES    = $(patsubst examples/%.c,$(BUILD_DIR)/examples/%,$(wildcard examples/*.c))
# The data-parallel example links MPI (libdescent does not): built when mpicc exists (checked when
# the target runs, so that mpi-deps may install it first).
MPICC        ?= mpicc
MPI_EXAMPLE   = $(BUILD_DIR)/examples/mpi/train_mlp_mpi

# Versions (README.md, "Versions"): VERSION is the release (Python package, pkg-config, CMake, git
# tag); DESCENT_ABI_VERSION in the header is the soname's number. Installed file names:
# libdescent.so.ABI.MINOR.PATCH, with links libdescent.so.ABI (the soname) and libdescent.so.
VERSION      := $(shell cat VERSION)
VERSION_PARTS = $(subst ., ,$(VERSION))
ABI_VERSION  := $(shell sed -n 's/^\#define DESCENT_ABI_VERSION \([0-9][0-9]*\).*/\1/p' include/descent.h)
SONAME        = libdescent.so.$(ABI_VERSION)
REALNAME      = $(SONAME).$(word 2,$(VERSION_PARTS)).$(word 3,$(VERSION_PARTS))
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
INSTALLED     = $(LIBDIR)/$(REALNAME) $(LIBDIR)/$(SONAME) $(LIBDIR)/libdescent.so \
                $(INCLUDEDIR)/descent.h $(LIBDIR)/pkgconfig/descent.pc \
                $(LIBDIR)/cmake/descent/descentConfig.cmake $(LIBDIR)/cmake/descent/descentConfigVersion.cmake \
                $(LIBDIR)/libscipy_openblas.so
CONFIGURE     = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
                    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
                    -e 's|@VERSION_MAJOR@|$(word 1,$(VERSION_PARTS))|g' \
                    -e 's|@VERSION_MINOR@|$(word 2,$(VERSION_PARTS))|g' \
                    -e 's|@ABI_VERSION@|$(ABI_VERSION)|g' -e 's|@SONAME@|$(SONAME)|g' -e 's|@REALNAME@|$(REALNAME)|g'

.PHONY: test-isa
.PHONY: all deps demo-deps mpi-deps mpi-example test-deps test-c-install test-swift-consumer test-swift-docs test-wheel test-typing lib runner demo test test-swift test-abi test-c test-leaks test-python test-python-stock \
        test-install install uninstall bench stress stress-self-test clean

all: lib runner mpi-example

deps:
	@scripts/ensure-deps.sh

# What the plotting demos (and the tests that run them) import: scikit-learn, matplotlib, tqdm.
demo-deps:
	@scripts/ensure-deps.sh --demo

# Open MPI (mpirun, mpicc) and mpi4py: the data-parallel tests and examples/mpi.
mpi-deps:
	@scripts/ensure-deps.sh --mpi

mpi-example: lib
	@if command -v $(MPICC) > /dev/null; then $(MAKE) --no-print-directory $(MPI_EXAMPLE) MPI_LIB_READY=1; \
	 else echo "mpicc not found: $(MPI_EXAMPLE) not built (scripts/ensure-deps.sh --mpi installs Open MPI)"; fi

$(BUILD_DIR)/examples/mpi/%: examples/mpi/%.c include/descent.h $(if $(MPI_LIB_READY),,lib)
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS_TEST) $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../../lib' -lm

# What the packaging checks use: pkg-config, cmake, mypy, the venv module.
test-deps:
	@scripts/ensure-deps.sh --test

# SwiftPM tracks the sources itself; these targets always ask it (a no-op build takes ~1 s).
lib: deps
	$(SWIFT) build $(RELEASE_FLAGS) --product descent
	@mkdir -p $(BUILD_DIR)/lib
	@# copy then rename: never rewrite a file a running process has mapped
	cp .build/release/libdescent.so $(LIB).tmp && mv -f $(LIB).tmp $(LIB)
	@# programs linked with -ldescent record the soname; it must resolve in build/lib too
	ln -sf libdescent.so $(BUILD_DIR)/lib/$(SONAME)
	cp .build/release/libdescent.so python/descent/libdescent.so.tmp && \
	    mv -f python/descent/libdescent.so.tmp python/descent/libdescent.so
	ln -sf libdescent.so python/descent/$(SONAME)
	@# A newer OpenBLAS beside the library (scripts/fetch-blas.sh; the system one serves without it)
	@scripts/fetch-blas.sh
	@if [ -f $(BUILD_DIR)/blas/libscipy_openblas.so ]; then \
	    for dir in $(BUILD_DIR)/lib python/descent; do \
	        cmp -s $(BUILD_DIR)/blas/libscipy_openblas.so $$dir/libscipy_openblas.so || \
	        { cp $(BUILD_DIR)/blas/libscipy_openblas.so $$dir/libscipy_openblas.so.tmp && \
	          mv -f $$dir/libscipy_openblas.so.tmp $$dir/libscipy_openblas.so; }; \
	    done; \
	fi
	@$(MAKE) --no-print-directory $(ACCEL)

# descent._accel, the compiled call path of Optimizer.step() and descent.functional (the package
# falls back to ctypes without it), for the python3 on PATH. In-tree, the header is included so
# that the extension's function types are checked against descent.h (DESCENT_ACCEL_CHECK).
$(ACCEL): python/descent/_accel.c include/descent.h
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -fPIC -shared -I$(PYTHON_INCLUDE) -Iinclude -include descent.h \
	    -DDESCENT_ACCEL_CHECK $< -o $@.tmp && mv -f $@.tmp $@

runner: lib
	$(SWIFT) build $(RELEASE_FLAGS) --product descent-pyrunner
	@mkdir -p $(BUILD_DIR)/bin
	cp .build/release/descent-pyrunner $(RUNNER).tmp && mv -f $(RUNNER).tmp $(RUNNER)

$(BUILD_DIR)/examples/%: examples/%.c include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../lib' -lm

$(BUILD_DIR)/c/%: Tests/c/%.c Tests/c/check.h $(STRESS_HEADERS) include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../lib' -lm -lpthread

demo: lib demo-deps $(C_EXAMPLES)
	@echo "== C: $(BUILD_DIR)/examples/textbook_quadratic"
	@$(BUILD_DIR)/examples/textbook_quadratic
	@echo "== Python: examples/textbook_quadratic.py"
	@PYTHONPATH=python $(PYTHON) examples/textbook_quadratic.py
	@echo "== Python: examples/train_classifier.py (mini-batch Adam, warmup+cosine, clipping, L2)"
	@PYTHONPATH=python $(PYTHON) examples/train_classifier.py
	@echo "== Python: examples/deep_stack_scale.py (vanishing/exploding vs Xavier/He)"
	@PYTHONPATH=python $(PYTHON) examples/deep_stack_scale.py
	@echo "== C: $(BUILD_DIR)/examples/step_size_sweep"
	@$(BUILD_DIR)/examples/step_size_sweep
	@echo "== Python: examples/demo_digits.py (an MLP on handwritten digits with eight optimizers)"
	@PYTHONPATH=python $(PYTHON) examples/demo_digits.py --out $(BUILD_DIR)/demo/digits_loss.png
	@echo "== Python: examples/rosenbrock_paths.py (six optimizers down the Rosenbrock valley)"
	@PYTHONPATH=python $(PYTHON) examples/rosenbrock_paths.py --out $(BUILD_DIR)/demo/rosenbrock_paths.png
	@echo "== Python: examples/restarts.py (random restarts on a surface with eight minima)"
	@PYTHONPATH=python $(PYTHON) examples/restarts.py --out $(BUILD_DIR)/demo/restarts.png
	@echo "== C: $(BUILD_DIR)/examples/train_mlp (an MLP trained through the C ABI alone)"
	@$(BUILD_DIR)/examples/train_mlp

test: all test-swift test-abi test-isa test-c test-leaks test-python-stock test-install test-wheel test-typing test-c-install test-swift-docs test-swift-consumer test-python
	@echo "make test: all suites passed"

# XCTest prints two lines per test case and totals per suite; failures, warnings, build lines and
# the overall total are kept.
test-swift: deps
	@set -o pipefail; $(SWIFT) test --disable-swift-testing 2>&1 | awk \
	    "/^Test (Case|Suite) '.*' (started|passed)/ {next} /^\t Executed/ {last = \$$0; next} {print} END {print last}"

# The library runs on baseline x86-64: AVX2/AVX-512 only inside the dispatched kernels.
test-isa: lib
	scripts/check-baseline-isa.sh $(LIB)

test-abi: lib
	scripts/check-abi.sh $(LIB)

# A training step allocates nothing once its batch size was seen: malloc is interposed (not
# under the sanitizers, which bring their own), so this program lives outside Tests/c.
$(BUILD_DIR)/alloc/test_no_allocation: Tests/alloc/test_no_allocation.c Tests/c/check.h include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../lib' -lm -lpthread

test-c: $(C_TESTS) $(C_EXAMPLES) $(BUILD_DIR)/alloc/test_no_allocation
	@set -e; for t in $(C_TESTS) $(BUILD_DIR)/alloc/test_no_allocation; do echo "== $$t"; $$t; done

# The C test programs again under LeakSanitizer (gcc -fsanitize=leak): any allocation the library
# or a test loses fails the run.
LEAK_TESTS = $(patsubst Tests/c/%.c,$(BUILD_DIR)/leak/%,$(wildcard Tests/c/*.c))
$(BUILD_DIR)/leak/%: Tests/c/%.c Tests/c/check.h $(STRESS_HEADERS) include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O1 -g -fsanitize=leak -Iinclude $< -o $@ -L$(BUILD_DIR)/lib -ldescent \
	    -Wl,-rpath,'$$ORIGIN/../lib' -lm -lpthread

test-leaks: $(LEAK_TESTS)
	scripts/run-leak-checks.sh $(LEAK_TESTS)

# The Python suite inside the Swift host (embedded interpreter), as the issue asks.
test-python: runner demo-deps mpi-deps
	@$(MAKE) --no-print-directory mpi-example MPI_LIB_READY=1
	$(RUNNER) -q python/tests

# The library copied to a fresh folder and loaded by a stock python3 with an empty environment.
test-python-stock: lib
	scripts/check-relocatable.sh $(LIB)

# `pip install ./python` into a scratch folder, then import it from there.
test-install: lib
	scripts/check-install.sh

# `pip wheel ./python`: tagged for this platform, installed into a fresh venv, imported with env -i.
test-wheel: lib test-deps
	scripts/check-wheel.sh

# mypy --strict on the package and on a sample user script; misuse must be reported.
test-typing: test-deps
	scripts/check-typing.sh

# `make install` into a temporary prefix; a C program built with pkg-config and with CMake's
# find_package(descent) against it; `make uninstall`.
test-c-install: lib test-deps
	scripts/check-c-install.sh

# Every public declaration of the Swift core has a doc comment.
test-swift-docs:
	scripts/check-swift-docs.py

# examples/swift-consumer built as a separate package that depends on a tagged snapshot of this
# repository by file:// URL and version, and run.
test-swift-consumer: deps
	scripts/check-swift-consumer.sh

# The C peer of the optimizer bench: a one-pass Adam loop, all cores (bench/adam_peer.c).
$(BUILD_DIR)/bench/libadam_peer.so: bench/adam_peer.c
	@mkdir -p $(dir $@)
	gcc -O3 -march=native -fno-math-errno -fopenmp -shared -fPIC $< -o $@ -lm

# Raw C call costs for the overhead rows of bench/step_targets.py.
$(BUILD_DIR)/bench/overhead: bench/overhead.c include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../lib'

bench: lib mpi-deps $(BUILD_DIR)/bench/libadam_peer.so $(BUILD_DIR)/bench/overhead
	PYTHONPATH=python $(PYTHON) bench/run.py
	PYTHONPATH=python $(PYTHON) bench/step_targets.py
	PYTHON=$(PYTHON) bench/mpi_scaling.sh

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/descent $(DESTDIR)$(INCLUDEDIR)
	install -m 0755 $(LIB) $(DESTDIR)$(LIBDIR)/$(REALNAME)
	ln -sfn $(REALNAME) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libdescent.so
	@# the newer OpenBLAS the library loads from its own folder, when make fetched it
	if [ -f $(BUILD_DIR)/lib/libscipy_openblas.so ]; then \
	    install -m 0755 $(BUILD_DIR)/lib/libscipy_openblas.so $(DESTDIR)$(LIBDIR)/libscipy_openblas.so; fi
	install -m 0644 include/descent.h $(DESTDIR)$(INCLUDEDIR)/descent.h
	@$(CONFIGURE) packaging/descent.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/descent.pc
	@$(CONFIGURE) packaging/descentConfig.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/descent/descentConfig.cmake
	@$(CONFIGURE) packaging/descentConfigVersion.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/descent/descentConfigVersion.cmake
	@echo "installed descent $(VERSION) ($(SONAME)) into $(DESTDIR)$(PREFIX); run ldconfig for a system prefix"

# Removes exactly what install wrote (and the cmake/descent folder it made, once empty); the
# bundled libscipy_openblas.so beside the library is removed too.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@rmdir $(DESTDIR)$(LIBDIR)/cmake/descent 2>/dev/null || true
# The stress programs (Tests/stress), built without sanitizers: their allocators defeat the
# address-space limits and fork tricks these programs rely on.
STRESS_PROGRAMS = $(patsubst Tests/stress/%.c,$(BUILD_DIR)/stress/%,$(wildcard Tests/stress/stress_*.c))
$(BUILD_DIR)/stress/%: Tests/stress/%.c $(STRESS_HEADERS) include/descent.h lib
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_TEST) -ITests/stress $< -o $@ -L$(BUILD_DIR)/lib -ldescent -Wl,-rpath,'$$ORIGIN/../lib' -lm -lpthread

stress: lib $(STRESS_PROGRAMS)
	PYTHON=$(PYTHON) scripts/stress.sh

stress-self-test: lib $(STRESS_PROGRAMS)
	PYTHON=$(PYTHON) scripts/stress.sh --self-test

clean:
	rm -rf $(BUILD_DIR) .build python/descent/libdescent.so python/descent/libdescent.so.* \
	    python/descent/libscipy_openblas.so python/descent/_accel*.so

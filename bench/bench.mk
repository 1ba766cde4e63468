# Read after the Linux 6.12 KVM selftests' Makefile (make -f Makefile -f
# bench.mk, see scripts/bench.py), so that gmem_bench is compiled with the
# selftests' flags and linked with their library (libkvm) built in $(OUTPUT).
BENCH_SRC ?= $(abspath $(dir $(lastword $(MAKEFILE_LIST)))gmem_bench.c)

$(OUTPUT)/gmem_bench: $(BENCH_SRC) $(LIBKVM_OBJS)
	$(CC) $(CFLAGS) -Werror -MF $@.d $(LDFLAGS) $< $(LIBKVM_OBJS) $(LDLIBS) -o $@

/*
 * How much faster a register-only loop runs on 2 threads than on 1, on this machine, right now.
 *
 *   gcc -O2 -pthread -o core_scaling scripts/core_scaling.c && ./core_scaling [ROUNDS]
 *
 * The loop touches no memory: four independent add/xor chains, about four instructions per
 * cycle, like a cache-resident classifier. On a machine with two free cores the ratio is ~2.0;
 * on a VM whose vCPUs share physical cores (SMT siblings, or other tenants), it falls below.
 * A second loop, one dependent multiply chain (about one instruction per cycle, which leaves
 * most of a core idle), is the control: it reaches ~2.0 even on shared cores.
 * 1- and 2-thread bursts of 100 ms alternate, so both see the same moments of a shared host
 * (as `sgsim bench --threads 1,2` times its thread counts in turns). Prints one line:
 *   core_scaling ratio=R median=M min=A max=B rounds=N chain_ratio=C
 * R is total work on 2 threads over total on 1; median/min/max are over the rounds' ratios;
 * C is R for the dependent chain.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define BURST_SECONDS 0.1

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static double burst_start;
static volatile uint64_t sink;

static void *work(void *arg) {
    uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8, loops = 0;
    while (now() - burst_start < BURST_SECONDS) {
        for (int i = 0; i < 100000; i++) {
            __asm__ volatile(
                "add %[a], %[b]\n\tadd %[c], %[d]\n\tadd %[e], %[f]\n\tadd %[g], %[h]\n\t"
                "xor %[b], %[a]\n\txor %[d], %[c]\n\txor %[f], %[e]\n\txor %[h], %[g]"
                : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [e] "+r"(e),
                  [f] "+r"(f), [g] "+r"(g), [h] "+r"(h));
        }
        loops++;
    }
    sink = a + b + c + d + e + f + g + h;
    *(uint64_t *)arg = loops;
    return NULL;
}

static void *dependent_chain(void *arg) {
    uint64_t x = (uint64_t)arg | 1, loops = 0;
    while (now() - burst_start < BURST_SECONDS) {
        for (int i = 0; i < 100000; i++) x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        loops++;
    }
    sink = x;
    *(uint64_t *)arg = loops;
    return NULL;
}

/* Loops per second of `threads` threads together, each running `body`. */
static double burst(void *(*body)(void *), int threads) {
    pthread_t ids[2];
    uint64_t loops[2] = {0, 0};
    burst_start = now();
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&ids[i], NULL, body, &loops[i]) != 0) {
            perror("pthread_create");
            exit(1);
        }
    }
    for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL);
    return (loops[0] + loops[1]) / (now() - burst_start);
}

static int by_value(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 20;
    if (rounds < 1 || rounds > 10000) {
        fprintf(stderr, "usage: %s [ROUNDS (1-10000, default 20)]\n", argv[0]);
        return 2;
    }
    double one = 0, two = 0, chain_one = 0, chain_two = 0;
    double *ratios = malloc(sizeof(double) * rounds);
    for (int r = 0; r < rounds; r++) {
        double a = burst(work, 1), b = burst(work, 2);
        one += a;
        two += b;
        ratios[r] = b / a;
        chain_one += burst(dependent_chain, 1);
        chain_two += burst(dependent_chain, 2);
    }
    qsort(ratios, rounds, sizeof(double), by_value);
    printf("core_scaling ratio=%.2f median=%.2f min=%.2f max=%.2f rounds=%d chain_ratio=%.2f\n",
           two / one, ratios[rounds / 2], ratios[0], ratios[rounds - 1], rounds,
           chain_two / chain_one);
    free(ratios);
    return 0;
}

//! The innermost step of a bit-vector lookup — AND five 512-bit blocks and find the first set
//! bit — in a portable form, an AVX2 form and an AVX-512 form, and the dispatch that runs a
//! whole batch with the best one this CPU has.
//!
//! This and `compile::table` (lookup tables in huge pages) are the engine's only `unsafe` code
//! (the other is the flow-log JSON scanner's SSE2 pass, `input::flowlog::structural`). Here it
//! is the vector forms': they need `core::arch` intrinsics and `#[target_feature]` entry
//! points, and both are only sound on a CPU that has the features: [`Avx512`] and [`Avx2`] can
//! only be obtained from their `detect`, which checks the CPU at run time, so safe code cannot
//! reach the intrinsics on a CPU without them.
//!
//! PERF: LLVM did not vectorize the portable AND even when built for AVX2 (`docs/engine.md`);
//! with the explicit form a 1024-rule lookup's AND is a handful of instructions.
#![allow(unsafe_code)]

/// 64-bit words per block: the unit the lookup ANDs at once (512 bits, one AVX-512 register).
pub const BLOCK_WORDS: usize = 8;

/// 512 rule bits, aligned so that one aligned vector load reads them.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Block(pub [u64; BLOCK_WORDS]);

impl Block {
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }
}

/// A way to AND blocks. Implementations are zero-sized tokens passed by value, so generic
/// lookup code is compiled once per kernel.
pub trait Kernel: Copy {
    /// The position of the lowest bit set in all five blocks, if any.
    fn first_common_bit(self, blocks: [&Block; 5]) -> Option<u32>;
}

/// Plain Rust, for any CPU.
#[derive(Clone, Copy, Debug)]
pub struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    fn first_common_bit(self, [a, b, c, d, e]: [&Block; 5]) -> Option<u32> {
        let and: [u64; BLOCK_WORDS] =
            std::array::from_fn(|i| a.0[i] & b.0[i] & c.0[i] & d.0[i] & e.0[i]);
        let word = and.iter().position(|&w| w != 0)?;
        Some(word as u32 * 64 + and[word].trailing_zeros())
    }
}

/// AVX-512 (F): one register per block. Only [`Avx512::detect`] makes one, and only on a CPU
/// with AVX-512F, AVX2, BMI1 and POPCNT (every AVX-512 CPU has the last three).
#[derive(Clone, Copy, Debug)]
pub struct Avx512 {
    _proof_of_support: (),
}

impl Avx512 {
    /// The kernel, when this CPU supports it.
    pub fn detect() -> Option<Avx512> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") && has_avx2_bmi1_popcnt() {
            return Some(Avx512 {
                _proof_of_support: (),
            });
        }
        None
    }
}

impl Kernel for Avx512 {
    #[inline(always)]
    fn first_common_bit(self, [a, b, c, d, e]: [&Block; 5]) -> Option<u32> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            // SAFETY: `self` exists only if `detect` found AVX-512F on this CPU. The loads read
            // 64 bytes from `&Block`s, which are 64 bytes long and 64-byte aligned.
            // PERF: no intrinsic inside a closure: closures are compiled without the entry
            // point's target features, so an intrinsic there can stay a call.
            unsafe {
                let load = |block: &Block| block.0.as_ptr().cast::<__m512i>();
                let and = _mm512_and_si512(
                    _mm512_and_si512(
                        _mm512_and_si512(_mm512_load_si512(load(a)), _mm512_load_si512(load(b))),
                        _mm512_load_si512(load(c)),
                    ),
                    _mm512_and_si512(_mm512_load_si512(load(d)), _mm512_load_si512(load(e))),
                );
                let nonzero_words = _mm512_test_epi64_mask(and, and);
                if nonzero_words == 0 {
                    return None;
                }
                // Move the first non-zero word to lane 0 rather than storing the register and
                // loading the word back. PERF: that store-to-load round trip was the hottest
                // instruction of a 1K-rule lookup (~9 % of cycles).
                let word = nonzero_words.trailing_zeros();
                let first = _mm512_permutexvar_epi64(_mm512_set1_epi64(word as i64), and);
                let bits = _mm_cvtsi128_si64(_mm512_castsi512_si128(first)) as u64;
                Some(word * 64 + bits.trailing_zeros())
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            Portable.first_common_bit([a, b, c, d, e])
        }
    }
}

/// AVX2: two registers per block, for the many x86-64 CPUs without AVX-512 (AMD before Zen 4,
/// Intel client parts). Only [`Avx2::detect`] makes one, and only on a CPU with AVX2, BMI1 and
/// POPCNT.
///
/// PERF: besides the AND, the batch entry point compiled for AVX2 lets LLVM use it (and BMI1's
/// `tzcnt`) in the whole inlined lookup; on this project's AVX2-only AMD EPYC VM the portable
/// kernel had been the only one (`docs/engine.md`).
#[derive(Clone, Copy, Debug)]
pub struct Avx2 {
    _proof_of_support: (),
}

impl Avx2 {
    /// The kernel, when this CPU supports it.
    pub fn detect() -> Option<Avx2> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2_bmi1_popcnt() {
            return Some(Avx2 {
                _proof_of_support: (),
            });
        }
        None
    }
}

impl Kernel for Avx2 {
    #[inline(always)]
    fn first_common_bit(self, [a, b, c, d, e]: [&Block; 5]) -> Option<u32> {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            // SAFETY: `self` exists only if `detect` found AVX2 on this CPU. Each load reads 32
            // bytes at offset 0 or 32 of a `&Block`, which is 64 bytes long and 64-byte aligned.
            // No intrinsic inside a closure (see the AVX-512 kernel).
            unsafe {
                let halves = |block: &Block| {
                    let low = block.0.as_ptr().cast::<__m256i>();
                    (low, low.add(1))
                };
                let (a, b, c, d, e) = (halves(a), halves(b), halves(c), halves(d), halves(e));
                let low = _mm256_and_si256(
                    _mm256_and_si256(
                        _mm256_and_si256(_mm256_load_si256(a.0), _mm256_load_si256(b.0)),
                        _mm256_load_si256(c.0),
                    ),
                    _mm256_and_si256(_mm256_load_si256(d.0), _mm256_load_si256(e.0)),
                );
                let high = _mm256_and_si256(
                    _mm256_and_si256(
                        _mm256_and_si256(_mm256_load_si256(a.1), _mm256_load_si256(b.1)),
                        _mm256_load_si256(c.1),
                    ),
                    _mm256_and_si256(_mm256_load_si256(d.1), _mm256_load_si256(e.1)),
                );
                let zero = _mm256_setzero_si256();
                let zero_low =
                    _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(low, zero)));
                let zero_high =
                    _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(high, zero)));
                let nonzero_words = !(zero_low as u32 | (zero_high as u32) << 4) & 0xff;
                if nonzero_words == 0 {
                    return None;
                }
                // As in the AVX-512 kernel, the word is moved to lane 0 rather than stored and
                // loaded back.
                let word = nonzero_words.trailing_zeros();
                let half = if word < 4 { low } else { high };
                let lane = (word & 3) as i32 * 2;
                let pick = _mm256_add_epi32(
                    _mm256_set1_epi32(lane),
                    _mm256_setr_epi32(0, 1, 0, 1, 0, 1, 0, 1),
                );
                let first = _mm256_permutevar8x32_epi32(half, pick);
                let bits = _mm_cvtsi128_si64(_mm256_castsi256_si128(first)) as u64;
                Some(word * 64 + bits.trailing_zeros())
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = self;
            Portable.first_common_bit([a, b, c, d, e])
        }
    }
}

/// What both vector kernels need besides their vector width.
#[cfg(target_arch = "x86_64")]
fn has_avx2_bmi1_popcnt() -> bool {
    std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("bmi1")
        && std::arch::is_x86_feature_detected!("popcnt")
}

/// Asks the CPU to start loading the cache line holding `value` into L1, so that a later read
/// does not wait for memory. A hint only: it never faults and changes no result.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE, which every x86_64 CPU has, and it cannot fault; the
    // pointer comes from a reference in any case.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((value as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Work that can run with any [`Kernel`]: implement `run`, and [`run_with_best_kernel`] picks
/// the kernel once for the whole task.
pub trait KernelTask {
    type Output;
    fn run<K: Kernel>(self, kernel: K) -> Self::Output;
}

/// Runs `task` with AVX-512 when the CPU has it, else with AVX2, else portably.
///
/// The vector paths enter through `#[target_feature]` functions, so the task's code (marked
/// `#[inline]`) is compiled for that instruction set as a whole and the kernel's intrinsics
/// inline into it.
pub fn run_with_best_kernel<T: KernelTask>(task: T) -> T::Output {
    #[cfg(target_arch = "x86_64")]
    if let Some(kernel) = Avx512::detect() {
        // SAFETY: `detect` found every feature `run_avx512` enables.
        return unsafe { run_avx512(task, kernel) };
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(kernel) = Avx2::detect() {
        // SAFETY: `detect` found every feature `run_avx2` enables.
        return unsafe { run_avx2(task, kernel) };
    }
    task.run(Portable)
}

/// The kernel [`run_with_best_kernel`] runs on this CPU, as benchmarks name it.
#[cfg(feature = "bench")]
pub fn best_kernel_name() -> &'static str {
    if Avx512::detect().is_some() {
        "AVX-512"
    } else if Avx2::detect().is_some() {
        "AVX2"
    } else {
        "portable"
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,popcnt")]
unsafe fn run_avx2<T: KernelTask>(task: T, kernel: Avx2) -> T::Output {
    task.run(kernel)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,bmi1,popcnt")]
unsafe fn run_avx512<T: KernelTask>(task: T, kernel: Avx512) -> T::Output {
    task.run(kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_with(bits: &[u32]) -> Block {
        let mut block = Block::default();
        for &bit in bits {
            block.0[bit as usize / 64] |= 1 << (bit % 64);
        }
        block
    }

    #[test]
    fn kernels_agree_on_the_first_common_bit() {
        let full = block_with(&(0..512).collect::<Vec<_>>());
        let cases: [(&[u32], &[u32], Option<u32>); 5] = [
            (&[], &[3], None),
            (&[0, 9], &[9], Some(9)),
            (&[70, 511], &[511, 70], Some(70)),
            (&[511], &[511], Some(511)),
            (&[5, 300], &[6, 301], None),
        ];
        for (x, y, expected) in cases {
            let (x, y) = (block_with(x), block_with(y));
            let blocks = [&x, &full, &y, &full, &full];
            assert_eq!(Portable.first_common_bit(blocks), expected);
            if let Some(avx) = Avx512::detect() {
                assert_eq!(avx.first_common_bit(blocks), expected);
            }
            if let Some(avx) = Avx2::detect() {
                assert_eq!(avx.first_common_bit(blocks), expected);
            }
        }
    }

    /// Every position of the first common bit, in every word and lane of both halves, with a
    /// later common bit and bits set in only some blocks.
    #[test]
    fn kernels_find_the_first_common_bit_anywhere() {
        for first in 0..512u32 {
            let later: Vec<u32> = [first, (first * 7 + 5) % 512]
                .into_iter()
                .filter(|&bit| bit >= first)
                .collect();
            let common = block_with(&later);
            let mut partial = later.clone();
            partial.extend((0..first).step_by(3));
            let partial = block_with(&partial);
            let blocks = [&common, &partial, &common, &partial, &common];
            assert_eq!(Portable.first_common_bit(blocks), Some(first));
            if let Some(avx) = Avx512::detect() {
                assert_eq!(avx.first_common_bit(blocks), Some(first));
            }
            if let Some(avx) = Avx2::detect() {
                assert_eq!(avx.first_common_bit(blocks), Some(first));
            }
        }
    }
}

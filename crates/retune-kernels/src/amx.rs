//! Intel AMX tile kernels for bf16 inner products (Sapphire Rapids and later).
//!
//! A 32 x 32 block of scores is four 16 x 16 f32 accumulator tiles, fed per 32-wide slice of
//! the dimension by two query tiles (16 rows of 32 bf16) and two document tiles in AMX's pair
//! layout (16 rows of 16 bf16 pairs, see [`pack_docs`]). Rust has no stable AMX intrinsics, so
//! the instructions are written as inline assembly; the tile registers are not a register class
//! the compiler allocates, so their state persists between the `asm!` blocks of one thread.
//!
//! Linux hands AMX's 8 KB of tile state to a process only on request
//! (`arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`); [`available`] checks the CPU
//! (CPUID leaf 7: AMX-TILE, AMX-BF16, AVX-512F) and makes that request once. Everywhere else
//! (other CPUs, other systems, a kernel that refuses) it answers false and nothing here runs.
#![allow(unsafe_code)]

/// Documents per panel: two 16-row tiles.
pub const PANEL: usize = 32;
/// Dimension slice per tile step: 32 bf16 (64 bytes, one tile row).
pub const SLICE: usize = 32;
/// u16 values per packed panel and slice: two tiles of 16 x 32.
pub const PANEL_SLICE: usize = PANEL * SLICE;

/// Whether this process may run the AMX kernels (checked once).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid_count;
    // CPUID is safe on x86_64 (every such CPU has it); leaf 7 exists when leaf 0 says so.
    let max_leaf = __cpuid_count(0, 0).eax;
    if max_leaf < 7 {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    let amx_bf16 = leaf7.edx >> 22 & 1 == 1;
    let amx_tile = leaf7.edx >> 24 & 1 == 1;
    let avx512f = leaf7.ebx >> 16 & 1 == 1;
    if !(amx_bf16 && amx_tile && avx512f && std::is_x86_feature_detected!("avx512f")) {
        return false;
    }
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let ret: i64;
    // SAFETY: the arch_prctl system call with these arguments only changes which extended
    // register state the kernel lets this process use; it reads and writes no memory of ours.
    // The syscall instruction clobbers rcx and r11, declared here.
    unsafe {
        std::arch::asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => ret,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// Round an f32 to bf16, to nearest, ties to even (inputs are finite: callers check).
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    ((bits + 0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

/// The f32 value of a bf16.
pub fn from_bf16(x: u16) -> f32 {
    f32::from_bits(u32::from(x) << 16)
}

/// Documents `d` (`n` rows of `dim`, f32) as bf16 panels for the kernel: panel `p`, slice `c`
/// holds two tiles (documents `32p..32p+16` and `32p+16..32p+32`), each 16 rows of 64 bytes
/// where row `r`, pair `j` is `(d[doc j][32c + 2r], d[doc j][32c + 2r + 1])`. Missing
/// documents and dimensions are zeros. Returns `panels * slices * PANEL_SLICE` values.
pub fn pack_docs(d: &[f32], dim: usize, slices: usize) -> Vec<u16> {
    use rayon::prelude::*;
    let n = d.len() / dim;
    let panels = n.div_ceil(PANEL);
    let mut out = vec![0u16; panels * slices * PANEL_SLICE];
    out.par_chunks_mut(slices * PANEL_SLICE)
        .enumerate()
        .for_each(|(p, panel)| {
            for (c, slice) in panel.chunks_mut(PANEL_SLICE).enumerate() {
                for (h, tile) in slice.chunks_mut(PANEL_SLICE / 2).enumerate() {
                    for j in 0..16 {
                        let doc = p * PANEL + h * 16 + j;
                        if doc >= n {
                            break;
                        }
                        let row = &d[doc * dim..(doc + 1) * dim];
                        for r in 0..16 {
                            for t in 0..2 {
                                let k = c * SLICE + 2 * r + t;
                                if k < dim {
                                    tile[r * 32 + 2 * j + t] = to_bf16(row[k]);
                                }
                            }
                        }
                    }
                }
            }
        });
    out
}

/// Queries `q` (`m` rows of `dim`) as bf16 rows of `slices * SLICE` values, rows padded to a
/// multiple of 32 with zeros.
pub fn pack_queries(q: &[f32], dim: usize, slices: usize) -> Vec<u16> {
    let m = q.len() / dim;
    let width = slices * SLICE;
    let mut out = vec![0u16; m.div_ceil(PANEL) * PANEL * width];
    for (row, src) in out.chunks_mut(width).zip(q.chunks(dim)) {
        for (o, &x) in row.iter_mut().zip(src) {
            *o = to_bf16(x);
        }
    }
    out
}

/// AMX's tile configuration: palette 1, tiles 0-7 all 16 rows of 64 bytes.
#[cfg(target_arch = "x86_64")]
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

#[cfg(target_arch = "x86_64")]
impl TileConfig {
    fn full() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for t in 0..8 {
            c[16 + 2 * t] = 64;
            c[48 + t] = 16;
        }
        Self(c)
    }
}

/// The tile configuration of the calling thread, loaded while it lives and released after.
#[cfg(target_arch = "x86_64")]
pub struct Tiles(std::marker::PhantomData<*const ()>);

#[cfg(target_arch = "x86_64")]
impl Tiles {
    /// Configure this thread's tiles. Panics when [`available`] is false.
    // No `Default`: making one configures hardware state and may panic.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        assert!(available(), "AMX is not available to this process");
        let config = TileConfig::full();
        // SAFETY: AMX is enabled for this process (checked above); ldtilecfg reads the 64-byte,
        // 64-aligned configuration, which lives until after the instruction.
        unsafe {
            std::arch::asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack));
        }
        Self(std::marker::PhantomData)
    }

    /// `out[i * 32 + j] = sum_k a[i][k] * b[doc j][k]` (f32 accumulation) for 32 query rows
    /// starting at `a` (`a.len() >= 32 * width`, `width = slices * SLICE`) and one packed
    /// document panel `b` (`slices * PANEL_SLICE` values).
    pub fn block(&self, a: &[u16], width: usize, b: &[u16], out: &mut [f32; 1024]) {
        out.fill(0.0);
        self.block_acc(a, width, b, out, 32);
    }

    /// `c[i * ldc + j] += sum_k a[i][k] * b[col j][k]` for the 32 x 32 block at the start of
    /// `c` (row stride `ldc` floats, `ldc >= 32`, `c.len() >= 31 * ldc + 32`); `a` and `b` as
    /// in [`block`](Self::block).
    pub fn block_acc(&self, a: &[u16], width: usize, b: &[u16], c: &mut [f32], ldc: usize) {
        let slices = width / SLICE;
        assert!(
            width.is_multiple_of(SLICE) && a.len() >= PANEL * width,
            "query rows"
        );
        assert!(b.len() >= slices * PANEL_SLICE, "document panel");
        assert!(
            ldc >= PANEL && c.len() >= (PANEL - 1) * ldc + PANEL,
            "output block"
        );
        let stride = width * 2;
        let c_stride = ldc * 4;
        // SAFETY: the tiles were configured by `new` on this thread (`Tiles` is neither Send
        // nor Sync, so `self` proves it). Every load reads 16 rows of 64 bytes: rows
        // `0..16` (or `16..32`) of `a` at byte stride `stride` within its `32 * width`
        // values, document tiles of 512 values within `b`, and the four 16 x 16 quarters of
        // `c`'s 32 x 32 block at byte stride `4 * ldc`, all bounded by the asserts above; the
        // stores write those same quarters of `c`, a unique borrow.
        unsafe {
            let o = c.as_mut_ptr();
            std::arch::asm!(
                "tileloadd tmm0, [{o0} + {s}*1]",
                "tileloadd tmm1, [{o1} + {s}*1]",
                "tileloadd tmm2, [{o2} + {s}*1]",
                "tileloadd tmm3, [{o3} + {s}*1]",
                o0 = in(reg) o,
                o1 = in(reg) o.add(16),
                o2 = in(reg) o.add(16 * ldc),
                o3 = in(reg) o.add(16 * ldc + 16),
                s = in(reg) c_stride,
                options(nostack, readonly),
            );
            for c in 0..slices {
                let a0 = a.as_ptr().add(c * SLICE);
                let a1 = a0.add(16 * width);
                let b0 = b.as_ptr().add(c * PANEL_SLICE);
                let b1 = b0.add(PANEL_SLICE / 2);
                std::arch::asm!(
                    "tileloadd tmm4, [{a0} + {s}*1]",
                    "tileloadd tmm5, [{a1} + {s}*1]",
                    "tileloadd tmm6, [{b0} + {s64}*1]",
                    "tileloadd tmm7, [{b1} + {s64}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    a0 = in(reg) a0,
                    a1 = in(reg) a1,
                    b0 = in(reg) b0,
                    b1 = in(reg) b1,
                    s = in(reg) stride,
                    s64 = in(reg) 64usize,
                    options(nostack, readonly),
                );
            }
            std::arch::asm!(
                "tilestored [{o0} + {s}*1], tmm0",
                "tilestored [{o1} + {s}*1], tmm1",
                "tilestored [{o2} + {s}*1], tmm2",
                "tilestored [{o3} + {s}*1], tmm3",
                o0 = in(reg) o,
                o1 = in(reg) o.add(16),
                o2 = in(reg) o.add(16 * ldc),
                o3 = in(reg) o.add(16 * ldc + 16),
                s = in(reg) c_stride,
                options(nostack),
            );
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Drop for Tiles {
    fn drop(&mut self) {
        // SAFETY: releases this thread's tile state (configured in `new`); touches no memory.
        unsafe { std::arch::asm!("tilerelease", options(nostack, nomem)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(from_bf16(to_bf16(1.0)), 1.0);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even one (1).
        assert_eq!(from_bf16(to_bf16(1.0 + 2f32.powi(-8))), 1.0);
        assert_eq!(
            from_bf16(to_bf16(1.0 + 3.0 * 2f32.powi(-8))),
            1.0 + 2f32.powi(-6)
        );
        assert_eq!(from_bf16(to_bf16(-0.3)), -0.30078125);
        let x = 0.123_456_79_f32;
        assert!((from_bf16(to_bf16(x)) - x).abs() <= x * 2f32.powi(-8));
    }

    #[test]
    fn packed_panel_layout() {
        let dim = 40; // two slices, the second one partial
        // Integers below 256 are exact in bf16, so positions can be read back.
        let d: Vec<f32> = (0..33 * dim).map(|i| (i % 251) as f32).collect();
        let p = pack_docs(&d, dim, 2);
        assert_eq!(p.len(), 2 * 2 * PANEL_SLICE);
        // panel 0, slice 1, second tile (docs 16..32), row 2, pair of doc 19: k = 36, 37.
        let at = PANEL_SLICE + PANEL_SLICE / 2 + 2 * 32 + 2 * 3;
        assert_eq!(from_bf16(p[at]), d[19 * dim + 36]);
        assert_eq!(from_bf16(p[at + 1]), d[19 * dim + 37]);
        // k = 40.. is padding, and doc 33.. in panel 1 too.
        assert_eq!(p[PANEL_SLICE + 4 * 32], 0);
        assert_eq!(p[2 * 2 * PANEL_SLICE - 1], 0);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tile_block_equals_bf16_products() {
        if !available() {
            // Without AMX the tiles refuse to configure (a panic, never an illegal instruction).
            assert!(std::panic::catch_unwind(Tiles::new).is_err());
            eprintln!("AMX not available here: tile kernel not exercised");
            return;
        }
        let dim: usize = 70;
        let slices = dim.div_ceil(SLICE);
        let q: Vec<f32> = (0..32 * dim)
            .map(|i| ((i * 7919) % 211) as f32 / 211.0 - 0.5)
            .collect();
        let d: Vec<f32> = (0..32 * dim)
            .map(|i| ((i * 104_729) % 199) as f32 / 199.0 - 0.5)
            .collect();
        let (a, b) = (pack_queries(&q, dim, slices), pack_docs(&d, dim, slices));
        let mut out = [0f32; 1024];
        Tiles::new().block(&a, slices * SLICE, &b, &mut out);
        for i in 0..32 {
            for j in 0..32 {
                let want: f64 = (0..dim)
                    .map(|k| {
                        f64::from(from_bf16(to_bf16(q[i * dim + k])))
                            * f64::from(from_bf16(to_bf16(d[j * dim + k])))
                    })
                    .sum();
                assert!((f64::from(out[i * 32 + j]) - want).abs() < 1e-5, "{i} {j}");
            }
        }
    }
}

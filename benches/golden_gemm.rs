//! Golden GEMM throughput (target: at least 1 GMAC/s for int8 on one core).
//! Run: `cargo bench --bench golden_gemm`. Prints a table; asserts nothing.

use std::time::Instant;

use accgen_golden::gemm::{gemm, GemmFormat, Matrix};
use accgen_golden::rng::SplitMix64;

fn main() {
    let mut rng = SplitMix64::new(1);
    println!(
        "{:<22} {:>10} {:>12} {:>10}",
        "shape (MxKxN)", "format", "time (ms)", "GMAC/s"
    );
    for (m, k, n) in [(256, 512, 256), (512, 512, 512), (64, 4096, 64)] {
        for (bits, acc) in [(8u32, 32u32), (16, 48)] {
            let a = Matrix::from_vec(m, k, (0..m * k).map(|_| rng.signed(bits)).collect());
            let b = Matrix::from_vec(k, n, (0..k * n).map(|_| rng.signed(bits)).collect());
            let fmt = GemmFormat {
                act_bits: bits,
                weight_bits: bits,
                acc_bits: acc,
            };
            let _ = gemm(&a, &b, fmt); // warm-up
            let reps = 3;
            let t = Instant::now();
            let mut sink = 0i64;
            for _ in 0..reps {
                sink ^= gemm(&a, &b, fmt).data[0];
            }
            let secs = t.elapsed().as_secs_f64() / reps as f64;
            let macs = (m * k * n) as f64;
            println!(
                "{:<22} {:>10} {:>12.2} {:>10.2}",
                format!("{m}x{k}x{n}"),
                format!("int{bits}/acc{acc}"),
                secs * 1e3,
                macs / secs / 1e9
            );
            std::hint::black_box(sink);
        }
    }
}

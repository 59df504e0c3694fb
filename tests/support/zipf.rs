//! A seeded, deterministic stream of Zipf-distributed key ranks (1 = hottest) over any number
//! of keys, without a table: rejection-inversion sampling (Hörmann and Derflinger, 1996), as
//! Apache Commons' `RejectionInversionZipfSampler`. The same seed gives the same stream, so a
//! stream can be replayed into caches of other sizes.
//!
//! Not declared in `support/mod.rs`: `tests/ghost_accuracy.rs` and `benches/ghost.rs` include it
//! with `#[path = "support/zipf.rs"]`.

/// Zipf ranks in `1..=n` with exponent `s`, from a splitmix64 sequence.
pub(crate) struct Zipf {
    n: f64,
    s: f64,
    state: u64,
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl Zipf {
    pub(crate) fn new(n: u64, s: f64, seed: u64) -> Zipf {
        assert!(
            n >= 1 && s > 0.0,
            "Zipf needs n >= 1 and s > 0 (n = {n}, s = {s})"
        );
        let mut z = Zipf {
            n: n as f64,
            s,
            state: seed,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            threshold: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.threshold = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A uniform value in [0, 1).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next rank.
    pub(crate) fn next_rank(&mut self) -> u64 {
        loop {
            let u = self.h_integral_n + self.uniform() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// ln(1 + x) / x, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (e^x − 1) / x, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

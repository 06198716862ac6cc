//! The generator's PRNG: `swvr_core::rng` (SplitMix64 seeding, xoshiro256**
//! streams), shared with the weight stage's bootstrap.

pub use swvr_core::rng::{Rng, mix, splitmix64};

//! Writes a bundle: `cargo run --release -p swvr-synth --example gen -- DIR [N]`.
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut opts = swvr_synth::SynthOptions::default();
    if let Some(n) = args.get(2) {
        opts.respondents = n.parse().unwrap_or(8000);
    }
    let out = std::path::PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "out".into()));
    match swvr_synth::synth(&out, &opts, &swvr_core::progress::NoProgress) {
        Ok(s) => println!("{} rows, {} bytes", s.respondents, s.respondents_bytes),
        Err(e) => eprintln!("{e}"),
    }
}

//! Prints the replicate factors swvr gives each respondent of an R
//! reference input file (scripts/replicates_reference_inputs.py):
//! `country,respondent_id,psu,f_1,…,f_R` per row, for the `[variance]`
//! method of a scheme. R's reference (scripts/r/replicates_reference.R)
//! compares its JKn factors with these, and feeds the bootstrap's to
//! `rake()`/`calibrate()`.
//!
//! usage: cargo run --release -p swvr-weight --example replicate_factors -- INPUTS.csv SCHEME.toml

use std::collections::BTreeMap;

use swvr_core::groups::Group;
use swvr_weight::{Scheme, replicate_factors};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, inputs, scheme] = args.as_slice() else {
        return Err("usage: replicate_factors INPUTS.csv SCHEME.toml".into());
    };
    let scheme = Scheme::from_path(std::path::Path::new(scheme))?;
    let mut rdr = csv::Reader::from_path(inputs)?;
    let h = rdr.headers()?.clone();
    let col = |name: &str| h.iter().position(|c| c == name).ok_or(format!("no column {name}"));
    let (c, id, st) = (col("country")?, col("respondent_id")?, col("stratum")?);
    // Rows per country in file order (one wave, as the reference bundle).
    let mut by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in rdr.records() {
        let r = r?;
        by.entry(r[c].to_string())
            .or_default()
            .push((r[id].to_string(), r[st].to_string()));
    }
    let mut out = String::new();
    for (country, rows) in by {
        let mut strata: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
        strata.sort();
        strata.dedup();
        let g = Group {
            country: country.clone(),
            wave: 2021,
            rows: (0..rows.len() as u32).collect(),
            stratum: rows
                .iter()
                .map(|r| strata.binary_search(&r.1).unwrap_or(0) as u32)
                .collect(),
            strata,
        };
        let f = replicate_factors(&g, scheme.variance());
        for (i, (rid, _)) in rows.iter().enumerate() {
            let psu = f.units.as_ref().map_or(String::new(), |u| u[i].to_string());
            let fs: Vec<String> = f.factors.iter().map(|col| format!("{:?}", col[i])).collect();
            out.push_str(&format!("{country},{rid},{psu},{}\n", fs.join(",")));
        }
    }
    print!("{out}");
    Ok(())
}

//! The one-pass sufficient-statistics variance agrees with the direct
//! formula on the scores (swvr_core::variance) to 1e-12.

use std::collections::HashMap;

use swvr_core::questionnaire::Questionnaire;
use swvr_core::variance::stratified_total_variance;
use swvr_tabulate::tabulate_batch;

use crate::common::{batch_from_csv, read_csv};

#[test]
fn sufficient_statistics_match_direct_scores() {
    for case in ["input.csv", "lonely.csv"] {
        let q = Questionnaire::default_2021();
        let est = tabulate_batch(&batch_from_csv(case, &q), &q, &Default::default()).unwrap();
        let (header, rows) = read_csv(case);
        let at = |n: &str| header.iter().position(|h| h == n).unwrap();
        let mut checked = 0;
        for e in est
            .iter()
            .filter(|e| q.item(&e.item).is_some() && ["total", "sex", "education"].contains(&e.domain.as_str()))
        {
            let item = q.item(&e.item).unwrap();
            let code = q.answer_set(item).code_of(&e.category).unwrap().to_string();
            let group: Vec<&Vec<String>> = rows.iter().filter(|r| r[at("country")] == e.country).collect();
            let mut strata: HashMap<&str, u32> = HashMap::new();
            for r in &group {
                let k = strata.len() as u32;
                strata.entry(r[at("stratum")].as_str()).or_insert(k);
            }
            let in_domain = |r: &Vec<String>| match (e.domain.as_str(), e.domain_level.as_str()) {
                ("total", _) => true,
                ("sex", "male") => r[at("sex")] == "1",
                ("sex", "female") => r[at("sex")] == "2",
                ("education", l) => {
                    r[at("education")]
                        == ["primary", "secondary", "tertiary"]
                            .iter()
                            .position(|x| *x == l)
                            .map(|i| (i + 1).to_string())
                            .unwrap()
                }
                _ => unreachable!(),
            };
            let a: Vec<bool> = group
                .iter()
                .map(|r| !r[at(&e.item)].is_empty() && in_domain(r))
                .collect();
            let w: Vec<f64> = group.iter().map(|r| r[at("weight")].parse().unwrap()).collect();
            let y: Vec<f64> = group
                .iter()
                .map(|r| f64::from(u8::from(r[at(&e.item)] == code)))
                .collect();
            let wd: f64 = (0..group.len()).filter(|&i| a[i]).map(|i| w[i]).sum();
            let p: f64 = (0..group.len()).filter(|&i| a[i]).map(|i| w[i] * y[i]).sum::<f64>() / wd;
            let z: Vec<f64> = (0..group.len())
                .map(|i| if a[i] { w[i] * (y[i] - p) / wd } else { 0.0 })
                .collect();
            let s: Vec<u32> = group.iter().map(|r| strata[r[at("stratum")].as_str()]).collect();
            let v = stratified_total_variance(&z, &s, strata.len());
            assert!((e.estimate - p).abs() < 1e-12, "{e:?}");
            assert!(
                (e.se * e.se - v).abs() <= 1e-12 * v.max(1e-300) || (v < 1e-30 && e.se < 1e-15),
                "{e:?}: direct variance {v}"
            );
            checked += 1;
        }
        assert!(checked > 300, "{checked}");
    }
}

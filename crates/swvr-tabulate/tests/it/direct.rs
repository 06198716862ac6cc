//! The one-pass sufficient-statistics variance agrees with the direct
//! formula on the scores (swvr_core::variance) to 1e-12.

use std::collections::HashMap;

use swvr_core::calibration::BatchCalibration;
use swvr_core::questionnaire::Questionnaire;
use swvr_core::variance::stratified_total_variance;
use swvr_tabulate::tabulate_batch;

use crate::common::{batch_from_csv, read_csv};

/// The rows of one country in a reference CSV, with their strata coded
/// in order of first appearance.
struct CountryRows {
    rows: Vec<usize>,
    stratum: Vec<u32>,
    strata: usize,
}

impl CountryRows {
    fn of(csv: &[Vec<String>], at: impl Fn(&str) -> usize, country: &str) -> Self {
        let (c, s) = (at("country"), at("stratum"));
        let rows: Vec<usize> = (0..csv.len()).filter(|&i| csv[i][c] == country).collect();
        let mut codes: HashMap<&str, u32> = HashMap::new();
        let stratum = rows
            .iter()
            .map(|&i| {
                let k = codes.len() as u32;
                *codes.entry(csv[i][s].as_str()).or_insert(k)
            })
            .collect();
        Self {
            rows,
            stratum,
            strata: codes.len(),
        }
    }

    /// The stratified with-replacement variance of the total of the scores `z`.
    fn variance(&self, z: &[f64]) -> f64 {
        stratified_total_variance(z, &self.stratum, self.strata)
    }

    /// The scores `z` (one per row) replaced by their residuals on the
    /// calibration variables (weights `w`).
    fn residualise(&self, calib: &BatchCalibration, w: &[f64], z: &mut [f64]) {
        let idx: Vec<u32> = self.rows.iter().map(|&i| i as u32).collect();
        let cell: Vec<u32> = idx.iter().map(|&i| calib.cell[i as usize]).collect();
        let start: Vec<f64> = idx.iter().map(|&i| calib.start[i as usize]).collect();
        calib.calibrator(&idx).residualise(z, 1, &cell, w, &start);
    }
}

/// The weighted mean `p` of `y` over the rows in the domain `a`, and the
/// linearisation scores of the mean: `w (y − p) / Σ_a w` in the domain, 0 outside.
fn mean_scores(w: &[f64], y: &[f64], a: &[bool]) -> (f64, Vec<f64>) {
    let wd: f64 = (0..w.len()).filter(|&i| a[i]).map(|i| w[i]).sum();
    let p: f64 = (0..w.len()).filter(|&i| a[i]).map(|i| w[i] * y[i]).sum::<f64>() / wd;
    let z = (0..w.len())
        .map(|i| if a[i] { w[i] * (y[i] - p) / wd } else { 0.0 })
        .collect();
    (p, z)
}

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
            let g = CountryRows::of(&rows, at, &e.country);
            let group: Vec<&Vec<String>> = g.rows.iter().map(|&i| &rows[i]).collect();
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
            let (p, z) = mean_scores(&w, &y, &a);
            let v = g.variance(&z);
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

/// `batch` with calibration columns (margins `sex`, `education`: their
/// reported codes as the weighting values, base weights varying around the
/// weights) and the metadata of `[variance] method = "calibrated"`.
fn calibrated(batch: &arrow_array::RecordBatch, function: &str) -> arrow_array::RecordBatch {
    use std::sync::Arc;
    use swvr_core::calibration::{META_CALIBRATION, META_MARGINS, META_VARIANCE};
    let schema = batch.schema();
    let mut fields: Vec<arrow_schema::Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut cols = batch.columns().to_vec();
    for d in ["sex", "education"] {
        fields.push(arrow_schema::Field::new(
            format!("{d}_weighting"),
            arrow_schema::DataType::Int8,
            false,
        ));
        cols.push(batch.column_by_name(d).unwrap().clone());
    }
    let w = batch
        .column_by_name("weight")
        .unwrap()
        .as_any()
        .downcast_ref::<arrow_array::Float64Array>()
        .unwrap();
    let base: Vec<f64> = (0..w.len())
        .map(|i| w.value(i) * (1.0 + 0.1 * (i % 3) as f64))
        .collect();
    fields.push(arrow_schema::Field::new(
        "base_weight",
        arrow_schema::DataType::Float64,
        false,
    ));
    cols.push(Arc::new(arrow_array::Float64Array::from(base)));
    let mut md = schema.metadata().clone();
    md.insert(META_VARIANCE, "calibrated");
    md.insert(META_CALIBRATION, function);
    md.insert(META_MARGINS, "sex,education");
    arrow_array::RecordBatch::try_new(Arc::new(arrow_schema::Schema::new_with_metadata(fields, md)), cols).unwrap()
}

/// Issue 10: with calibrated variance, the cell sufficient statistics give
/// the variance of the row-level residuals (swvr_core::calibration, then
/// swvr_core::variance), with a lonely stratum and domains, for both
/// residualisations (rake's backfitting, calibrate's regression).
#[test]
fn calibrated_statistics_match_direct_residuals() {
    use swvr_core::calibration::Residualise;
    let q = Questionnaire::default_2021();
    for function in ["raking", "logit"] {
        let batch = calibrated(&batch_from_csv("lonely.csv", &q), function);
        let calib = BatchCalibration::from_batch(&batch).unwrap().unwrap();
        assert_eq!(
            calib.method,
            if function == "raking" {
                Residualise::Backfit
            } else {
                Residualise::Regression
            }
        );
        let est = tabulate_batch(&batch, &q, &Default::default()).unwrap();
        let fixed = tabulate_batch(&batch_from_csv("lonely.csv", &q), &q, &Default::default()).unwrap();
        let (header, rows) = read_csv("lonely.csv");
        let at = |n: &str| header.iter().position(|h| h == n).unwrap();
        let mut checked = 0;
        let mut differ = 0;
        for (e, f) in est
            .iter()
            .zip(&fixed)
            .filter(|(e, _)| q.item(&e.item).is_some() && ["total", "sex"].contains(&e.domain.as_str()))
        {
            assert_eq!((e.variance_method, f.variance_method), ("calibrated", "fixed"));
            assert_eq!(
                (&e.item, &e.domain_level, &e.category),
                (&f.item, &f.domain_level, &f.category)
            );
            let item = q.item(&e.item).unwrap();
            let code = q.answer_set(item).code_of(&e.category).unwrap().to_string();
            let g = CountryRows::of(&rows, at, &e.country);
            let rows_g = &g.rows;
            let in_domain = |r: &Vec<String>| match e.domain_level.as_str() {
                "total" => true,
                "male" => r[at("sex")] == "1",
                "female" => r[at("sex")] == "2",
                _ => unreachable!(),
            };
            let a: Vec<bool> = rows_g
                .iter()
                .map(|&i| !rows[i][at(&e.item)].is_empty() && in_domain(&rows[i]))
                .collect();
            let w: Vec<f64> = rows_g.iter().map(|&i| rows[i][at("weight")].parse().unwrap()).collect();
            let y: Vec<f64> = rows_g
                .iter()
                .map(|&i| f64::from(u8::from(rows[i][at(&e.item)] == code)))
                .collect();
            let (_, mut z) = mean_scores(&w, &y, &a);
            g.residualise(&calib, &w, &mut z);
            let v = g.variance(&z);
            assert!((e.estimate - f.estimate).abs() < 1e-15, "{e:?}");
            assert!(
                (e.se * e.se - v).abs() <= 1e-10 * v.max(1e-300) || (v < 1e-30 && e.se < 1e-14),
                "{e:?}: direct variance {v}"
            );
            differ += usize::from((e.se - f.se).abs() > 1e-9 * f.se);
            checked += 1;
        }
        assert!(
            checked > 100 && differ > checked / 2,
            "{checked} checked, {differ} differ from fixed"
        );
    }
}

/// Issue 10: with calibrated variance, a level contrast's variance is that
/// of the difference of the two levels' row-level residual scores
/// (swvr_core::calibration, then swvr_core::variance): the covariance of the
/// calibrated residuals, with a lonely stratum, for both residualisations.
#[test]
fn calibrated_level_contrasts_match_direct_residuals() {
    let q = Questionnaire::default_2021();
    for function in ["raking", "logit"] {
        let batch = calibrated(&batch_from_csv("lonely.csv", &q), function);
        let calib = BatchCalibration::from_batch(&batch).unwrap().unwrap();
        let (_, con) = swvr_tabulate::tabulate_batch_with_contrasts(&batch, &q, &Default::default()).unwrap();
        let (header, rows) = read_csv("lonely.csv");
        let at = |n: &str| header.iter().position(|h| h == n).unwrap();
        let mut checked = 0;
        for c in con
            .iter()
            .filter(|c| c.domain == "sex" && q.item(&c.item).is_some() && c.item != "Q4B_net")
        {
            assert_eq!(c.variance_method, "calibrated");
            let item = q.item(&c.item).unwrap();
            let code = q.answer_set(item).code_of(&c.category).unwrap().to_string();
            let g = CountryRows::of(&rows, at, &c.country);
            let rows_g = &g.rows;
            let w: Vec<f64> = rows_g.iter().map(|&i| rows[i][at("weight")].parse().unwrap()).collect();
            let y: Vec<f64> = rows_g
                .iter()
                .map(|&i| f64::from(u8::from(rows[i][at(&c.item)] == code)))
                .collect();
            let resid = |sex: &str| -> Vec<f64> {
                let a: Vec<bool> = rows_g
                    .iter()
                    .map(|&i| !rows[i][at(&c.item)].is_empty() && rows[i][at("sex")] == sex)
                    .collect();
                let (_, mut z) = mean_scores(&w, &y, &a);
                g.residualise(&calib, &w, &mut z);
                z
            };
            let (za, zb) = (resid("1"), resid("2"));
            let d: Vec<f64> = za.iter().zip(&zb).map(|(a, b)| a - b).collect();
            let v = g.variance(&d);
            assert!(
                (c.se * c.se - v).abs() <= 1e-10 * v.max(1e-300) || (v < 1e-30 && c.se < 1e-14),
                "{c:?}: direct variance {v}"
            );
            checked += 1;
        }
        assert!(checked > 50, "{checked}");
    }
}

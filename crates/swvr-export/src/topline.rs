//! topline.xlsx: one sheet per country-wave; every item (questionnaire
//! order, then the derived indicators) with its question text, its
//! categories in questionnaire order, and for every domain level the
//! weighted percentage and its margin of error, plus the unweighted n.
//!
//! Layout of a sheet: row 1 a title; row 2 the domain levels (`Total`,
//! `sex: male`, …), each over two columns; row 3 `%` and `±`; rows 1–3 and
//! the first two columns are frozen. Then per item: a bold row with the item
//! name and question text, one row per category (the percentage cell holds
//! the share 0–1 with the format `0.0%`; the margin of error is half the
//! width of the 95% interval of tables.arrow, also a share, format
//! `±0.0%`; blank when the interval is not defined), a row
//! `n (unweighted)` with the respondents asked the item in each level, and
//! an empty row. Values only, no formulas.

use std::collections::HashMap;
use std::path::Path;

use arrow_array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use rust_xlsxwriter::Format;
use swvr_core::questionnaire::{Derived, Questionnaire};

use crate::ExportError;
use crate::tabular::{save, workbook, xerr};

struct Tables<'a> {
    country: &'a StringArray,
    wave: &'a Int32Array,
    item: &'a StringArray,
    domain: &'a StringArray,
    level: &'a StringArray,
    category: &'a StringArray,
    n: &'a Int64Array,
    estimate: &'a Float64Array,
    ci_low: &'a Float64Array,
    ci_high: &'a Float64Array,
}

impl<'a> Tables<'a> {
    fn new(b: &'a RecordBatch, path: &Path) -> Result<Self, ExportError> {
        let c = |name: &str| swvr_core::io::column::<StringArray>(b, name, path);
        let f = |name: &str| swvr_core::io::column::<Float64Array>(b, name, path);
        Ok(Self {
            country: c("country")?,
            wave: swvr_core::io::column::<Int32Array>(b, "wave", path)?,
            item: c("item")?,
            domain: c("domain")?,
            level: c("domain_level")?,
            category: c("category")?,
            n: swvr_core::io::column::<Int64Array>(b, "n", path)?,
            estimate: f("estimate")?,
            ci_low: f("ci_low")?,
            ci_high: f("ci_high")?,
        })
    }
}

fn opt(a: &Float64Array, i: usize) -> Option<f64> {
    (!a.is_null(i)).then(|| a.value(i))
}

/// Half-width of the 95% interval of row `i`, when defined.
pub(crate) fn moe(ci_low: Option<f64>, ci_high: Option<f64>) -> Option<f64> {
    Some((ci_high? - ci_low?) / 2.0)
}

/// Writes topline.xlsx from tables.arrow (`tables`, read from `source`).
pub(crate) fn write(path: &Path, tables: &RecordBatch, source: &Path, q: &Questionnaire) -> Result<(), ExportError> {
    let t = Tables::new(tables, source)?;
    // Country-waves in order of first appearance (tables.arrow is sorted).
    let mut groups: Vec<(String, i32, Vec<usize>)> = Vec::new();
    for i in 0..tables.num_rows() {
        let (c, w) = (t.country.value(i), t.wave.value(i));
        match groups.last_mut() {
            Some(g) if g.0 == c && g.1 == w => g.2.push(i),
            _ => match groups.iter_mut().find(|g| g.0 == c && g.1 == w) {
                Some(g) => g.2.push(i),
                None => groups.push((c.to_string(), w, vec![i])),
            },
        }
    }
    let mut wb = workbook().map_err(xerr(path))?;
    let bold = Format::new().set_bold();
    let head = Format::new().set_bold().set_align(rust_xlsxwriter::FormatAlign::Center);
    let pct = Format::new().set_num_format("0.0%");
    let pm = Format::new().set_num_format("\"±\"0.0%");
    let int = Format::new().set_num_format("0");
    let x = xerr(path);

    // Item order: questionnaire items, then derived indicators.
    let mut order: Vec<(String, String)> = q.items().iter().map(|i| (i.id.clone(), i.text.clone())).collect();
    for d in q.derived() {
        let text = match d {
            Derived::AnyYes { text, .. } | Derived::Net { text, .. } => text.clone(),
        };
        order.push((d.id().to_string(), text));
    }

    for (country, wave, rows) in &groups {
        let ws = wb.add_worksheet();
        ws.set_name(format!("{country} {wave}")).map_err(&x)?;
        // Domain levels in order of appearance; the cells of each row.
        let mut levels: Vec<(String, String)> = Vec::new();
        let mut cell: HashMap<(&str, &str, &str, &str), usize> = HashMap::with_capacity(rows.len());
        for &i in rows {
            let (d, l) = (t.domain.value(i), t.level.value(i));
            if !levels.iter().any(|(a, b)| a == d && b == l) {
                levels.push((d.to_string(), l.to_string()));
            }
            cell.insert((t.item.value(i), d, l, t.category.value(i)), i);
        }
        ws.write_string_with_format(
            0,
            0,
            format!(
                "{country} {wave}: weighted percentages, ±95% margins of error (half-width of the interval), unweighted n"
            ),
            &bold,
        )
        .map_err(&x)?;
        ws.write_string_with_format(1, 0, "Item", &bold).map_err(&x)?;
        ws.write_string_with_format(1, 1, "Category", &bold).map_err(&x)?;
        ws.set_column_width(0, 10).map_err(&x)?;
        ws.set_column_width(1, 22).map_err(&x)?;
        for (k, (d, l)) in levels.iter().enumerate() {
            let c0 = 2 + 2 * k as u16;
            let title = if d == "total" {
                "Total".to_string()
            } else {
                format!("{d}: {l}")
            };
            ws.merge_range(1, c0, 1, c0 + 1, &title, &head).map_err(&x)?;
            ws.write_string_with_format(2, c0, "%", &head).map_err(&x)?;
            ws.write_string_with_format(2, c0 + 1, "±", &head).map_err(&x)?;
            ws.set_column_width(c0, 8).map_err(&x)?;
            ws.set_column_width(c0 + 1, 8).map_err(&x)?;
        }
        ws.set_freeze_panes(3, 2).map_err(&x)?;

        let mut r: u32 = 3;
        for (id, text) in &order {
            // Categories: the answer set's order for items, else as tabulated.
            let mut cats: Vec<&str> = Vec::new();
            for &i in rows {
                if t.item.value(i) == id.as_str() {
                    let c = t.category.value(i);
                    if !cats.contains(&c) {
                        cats.push(c);
                    }
                }
            }
            if cats.is_empty() {
                continue;
            }
            if let Some(item) = q.item(id) {
                let set = q.answer_set(item);
                cats.sort_by_key(|c| set.codes.iter().position(|k| k.category == *c).unwrap_or(usize::MAX));
            }
            ws.write_string_with_format(r, 0, id, &bold).map_err(&x)?;
            ws.write_string_with_format(r, 1, text, &bold).map_err(&x)?;
            r += 1;
            for cat in &cats {
                ws.write_string(r, 1, *cat).map_err(&x)?;
                for (k, (d, l)) in levels.iter().enumerate() {
                    let c0 = 2 + 2 * k as u16;
                    if let Some(&i) = cell.get(&(id.as_str(), d.as_str(), l.as_str(), *cat)) {
                        ws.write_number_with_format(r, c0, t.estimate.value(i), &pct)
                            .map_err(&x)?;
                        if let Some(m) = moe(opt(t.ci_low, i), opt(t.ci_high, i)) {
                            ws.write_number_with_format(r, c0 + 1, m, &pm).map_err(&x)?;
                        }
                    }
                }
                r += 1;
            }
            ws.write_string(r, 1, "n (unweighted)").map_err(&x)?;
            for (k, (d, l)) in levels.iter().enumerate() {
                let c0 = 2 + 2 * k as u16;
                let found = cats
                    .iter()
                    .find_map(|cat| cell.get(&(id.as_str(), d.as_str(), l.as_str(), *cat)));
                if let Some(&i) = found {
                    ws.write_number_with_format(r, c0, t.n.value(i) as f64, &int)
                        .map_err(&x)?;
                }
            }
            r += 2;
        }
    }
    save(path, &mut wb)
}

//! Prints a file's dictionary and its first records: `cargo run --example statdump -- FILE [N]`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: statdump FILE [N]")?;
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut r = swvr_statfile::Reader::open(path.as_ref())?;
    println!("{:?}, {:?} records", r.format(), r.records());
    for v in r.variables() {
        println!(
            "{} {:?} {:?} labels={:?} missing={:?}",
            v.name, v.kind, v.label, v.value_labels, v.missing
        );
    }
    let mut rec = swvr_statfile::Record::default();
    let mut count = 0u64;
    while r.next_record(&mut rec)? {
        if count < n {
            let vals: Vec<String> = (0..rec.len())
                .map(|i| match rec.get(i) {
                    swvr_statfile::Value::Text(t) => format!("{:?}", String::from_utf8_lossy(t)),
                    v => format!("{v:?}"),
                })
                .collect();
            println!("#{}: {}", rec.number(), vals.join(" "));
        }
        count += 1;
    }
    println!("{count} records");
    Ok(())
}

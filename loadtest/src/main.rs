//! `identity-bench`: parse options, run, print the report.

use std::io::Write as _;

use clap::Parser;
use identity_bench::options::BenchOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = BenchOptions::parse();
    if let Some(body) = &options.h2load_body {
        let (url, ceiling) = identity_bench::h2load_requests::prepare(&options, body).await?;
        writeln!(std::io::stdout().lock(), "{url}")?;
        if ceiling.is_some() {
            // The ceiling serves h2load from this process until the script stops it.
            std::future::pending::<()>().await;
        }
        return Ok(());
    }
    let outcome = identity_bench::run(&options).await?;
    let text = if options.json {
        serde_json::to_string_pretty(&outcome)?
    } else {
        outcome.to_string()
    };
    // Not println!: it panics when the reader has gone (`identity-bench … | head`); a
    // closed pipe is an error to report like any other.
    writeln!(std::io::stdout().lock(), "{text}")?;
    Ok(())
}

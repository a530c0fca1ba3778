//! `identity-bench`: parse options, run, print the report.

use clap::Parser;
use identity_bench::options::BenchOptions;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = BenchOptions::parse();
    let outcome = identity_bench::run(&options).await?;
    let text = if options.json {
        serde_json::to_string_pretty(&outcome)?
    } else {
        outcome.to_string()
    };
    #[allow(clippy::print_stdout, reason = "the report is this tool's output")]
    {
        println!("{text}");
    }
    Ok(())
}

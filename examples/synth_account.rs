//! Writes a synthetic account (the ECS API's JSON) for `sgsim reach` at scale:
//!
//! ```sh
//! cargo run --release --example synth_account -- 1000 100 > /tmp/account.json
//! ```
//!
//! Arguments: NICs, distinct group sets, seed (defaults 1000, 100, 1).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: u64| -> Result<u64, String> {
        match args.get(i) {
            None => Ok(default),
            Some(text) => text
                .parse()
                .map_err(|_| format!("argument {}: {text:?} is not a whole number", i + 1)),
        }
    };
    let parsed = (|| Ok::<_, String>((number(0, 1000)?, number(1, 100)?, number(2, 1)?)))();
    match parsed {
        Ok((nics, sets, _)) if nics == 0 || sets == 0 => {
            eprintln!("error: NICs and group sets must be at least 1");
            ExitCode::from(2)
        }
        Ok((nics, sets, seed)) => {
            let account = sgsim::bench::account::generate(nics as usize, sets as usize, seed);
            println!("{account}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err} (usage: synth_account [NICS [GROUP_SETS [SEED]]])");
            ExitCode::from(2)
        }
    }
}

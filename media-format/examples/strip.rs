//! `cargo run -p media-format --example strip -- FILE…`: remove location, device and personal
//! metadata from each file in place, printing what was removed.

fn main() -> std::process::ExitCode {
    let mut failed = false;
    for arg in std::env::args().skip(1) {
        match media_format::strip_in_place(std::path::Path::new(&arg)) {
            Ok(report) => println!(
                "{arg}: {} removed {:?}, location {}, orientation {}",
                report.format.unwrap_or("unknown format,"),
                report.removed,
                if report.had_location {
                    "found and removed"
                } else {
                    "none"
                },
                report.orientation
            ),
            Err(e) => {
                eprintln!("{arg}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    }
}

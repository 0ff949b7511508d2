use cli::args;
use tests::corpus::{self, Route};
#[test]
fn print_reasons() {
    let dir = tempfile::tempdir().unwrap();
    corpus::make_inputs(dir.path(), false);
    for line in corpus::load() {
        if line.route != Route::Ffmpeg {
            continue;
        }
        let Ok(mut command) = args::parse(&line.argv) else { continue };
        for input in &mut command.inputs {
            if dir.path().join(&input.url).is_file() {
                input.url = dir.path().join(&input.url).to_str().unwrap().to_string();
            }
        }
        if let Err(r) = cli::route::route_all(&command) {
            println!("{}: {r}", line.number);
        }
    }
}
#[test]
fn one() {
    let Ok(line) = std::env::var("LINE") else { return };
    let dir = tempfile::tempdir().unwrap();
    corpus::make_inputs(dir.path(), false);
    let argv: Vec<String> = shell_words(&line);
    let mut command = args::parse(&argv).unwrap();
    for input in &mut command.inputs {
        if dir.path().join(&input.url).is_file() {
            input.url = dir.path().join(&input.url).to_str().unwrap().to_string();
        }
    }
    println!("{:?}", cli::route::route_all(&command).map(|_| "distributed"));
}
fn shell_words(s: &str) -> Vec<String> {
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import shlex,sys;print('\\0'.join(shlex.split(sys.argv[1])),end='')")
        .arg(s)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().split('\0').map(String::from).collect()
}

fn main() {
    let cfg = accgen_golden::config::Config::from_toml_str("[mac]\n").unwrap();
    let d = accgen_hw::generate(&cfg).unwrap();
    let out = std::path::Path::new("/tmp/vout");
    for p in d.write(out).unwrap() {
        println!("{}", p.display());
    }
}

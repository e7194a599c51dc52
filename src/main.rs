fn main() {
    keyward::hardening::harden_process();
    std::process::exit(keyward::run());
}

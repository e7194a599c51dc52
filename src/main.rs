fn main() {
    keyward::hardening::harden_process();
    // A shell asking for completions (COMPLETE=<shell>) is answered here, before anything else.
    keyward::complete::handle_request();
    std::process::exit(keyward::run());
}

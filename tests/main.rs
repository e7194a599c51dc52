//! The end-to-end tests, one test binary (as ripgrep and just have it): on two cores, linking
//! two dozen test crates cost more than running them. Each module is one area, driven through
//! the real binary; `common` is the harness.

mod common;

mod audit;
mod backup;
mod bad_input;
mod cli;
mod clipboard;
mod coming_from;
mod completions;
mod concurrency;
mod crash;
mod disk_full;
mod doctor;
mod exec;
mod export_import;
mod format2;
mod generated;
mod git_drivers;
mod help;
mod hygiene;
mod layers;
mod leaks;
mod mask;
mod plugins;
mod prompt;
mod readme;
mod remotes;
mod review;
mod rotate;
mod scan;
mod scan_quality;
mod secret_service;
mod tamper;
mod team;
mod unlock;
mod validate;
mod vectors;

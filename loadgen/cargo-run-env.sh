# Sourced by the loadgen/bench*.sh scripts (with ROOT set to the repository): CARGO_RUN_ENV, the
# environment `cargo run` gives the platform (.cargo/config.toml's [env]: the allocators'
# settings) as VAR=value words, so that a benchmarked binary runs as the README's first command
# runs it.
mapfile -t CARGO_RUN_ENV < <(sed -n '/^\[env\]/,/^\[/{s/^\([A-Z_]*\) = "\(.*\)"$/\1=\2/p}' "$ROOT/.cargo/config.toml")

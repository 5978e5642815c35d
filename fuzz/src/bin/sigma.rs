//! AFL++ entry point: see trailscope_fuzz::sigma.

fn main() {
    afl::fuzz!(|data: &[u8]| trailscope_fuzz::sigma(data));
}

//! AFL++ entry point: see trailscope_fuzz::time.

fn main() {
    afl::fuzz!(|data: &[u8]| trailscope_fuzz::time(data));
}

//! AFL++ entry point: see trailscope_fuzz::condition.

fn main() {
    afl::fuzz!(|data: &[u8]| trailscope_fuzz::condition(data));
}

//! AFL++ entry point: see trailscope_fuzz::ioc.

fn main() {
    afl::fuzz!(|data: &[u8]| trailscope_fuzz::ioc(data));
}

//! AFL++ entry point: see trailscope_fuzz::FileReader.

fn main() {
    let reader = trailscope_fuzz::FileReader::new();
    afl::fuzz!(|data: &[u8]| reader.read(data));
}

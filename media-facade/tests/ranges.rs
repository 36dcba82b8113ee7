//! Property tests: any range of any size reads back exactly, even when one store corrupts a
//! random byte.

mod common;

use common::*;
use media_core::{ByteRange, PreferP2p};
use media_facade::UploadRequest;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn any_range_reads_back_exactly(
        size in 0u64..(3 * MIB + MIB / 2),
        a in any::<u64>(),
        b in any::<u64>(),
        corrupt in proptest::option::of(any::<u64>()),
        seed in any::<u64>(),
    ) {
        let rt = runtime();
        rt.block_on(async {
            let f = fixture(PreferP2p).await;
            let bytes = data(size, seed);
            let file = f.store.upload(UploadRequest::bytes("p", bytes.clone())).await.unwrap();
            let (mut start, mut end) = (a % (size + 1), b % (size + 1));
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            if let (Some(at), true) = (corrupt, size > 0) {
                f.ipfs.set_faults(|x| x.corrupt_at = Some(at % size));
            }
            let got = f
                .store
                .open(&file.id, ByteRange::new(start, end))
                .await
                .unwrap()
                .read_to_end()
                .await
                .unwrap();
            assert_eq!(got, &bytes[start as usize..end as usize]);
            // Every range asked of a store starts on a chunk boundary.
            for r in f.ipfs.requested_ranges().into_iter().chain(f.torrent.requested_ranges()) {
                assert_eq!(r.start % MIB, 0, "unaligned request {r}");
            }
        });
    }
}

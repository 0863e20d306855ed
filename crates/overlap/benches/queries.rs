//! Criterion benchmarks of the core at a size that fits a quick run:
//! `cargo bench -p overlap`. National-scale runs side by side with other
//! engines are in `bench/compare.py`.

// Synthetic data: precision of random floats and short names do not matter here.
#![allow(clippy::cast_precision_loss, clippy::many_single_char_names)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use overlap::{ContactRules, Engine, TraceRules};
use std::hint::black_box;

const START: i64 = 1_627_750_800; // 2021-08-01 00:00 in Vietnam
const DAYS: i64 = 14;

struct Data {
    persons: Vec<u64>,
    venues: Vec<u64>,
    t_in: Vec<i64>,
    t_out: Vec<i64>,
}

/// Two check-ins per person per day, one venue per 100 people with skewed
/// popularity, 2% forgotten check-outs: the shape of `tokhai_engine.synth`.
fn data(n: usize) -> Data {
    let people = (n as u64 / (2 * DAYS as u64)).max(1);
    let venues = (people / 100).max(1);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut d = Data {
        persons: vec![],
        venues: vec![],
        t_in: vec![],
        t_out: vec![],
    };
    for _ in 0..n {
        let (a, b, c) = (next(), next(), next());
        // Squaring a uniform number skews venue choice towards low ids.
        let u = (a >> 11) as f64 / (1u64 << 53) as f64;
        d.venues.push((u * u * u * venues as f64) as u64);
        d.persons.push(b % people);
        let t_in = START + (c % DAYS as u64) as i64 * 86_400 + 21_600 + ((c >> 20) % 57_600) as i64;
        let dwell = if (c >> 50) % 50 == 0 {
            43_200 + ((c >> 8) % 43_200) as i64
        } else {
            60 + ((a >> 3) % 5_400) as i64
        };
        d.t_in.push(t_in);
        d.t_out.push(t_in + dwell);
    }
    d
}

fn benches(c: &mut Criterion) {
    let n = 2_000_000;
    let d = data(n);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("build 2M stays", |b| {
        b.iter_batched(
            Engine::new,
            |e| {
                black_box(
                    e.add_stays(&d.persons, &d.venues, &d.t_in, &d.t_out)
                        .unwrap(),
                )
            },
            BatchSize::PerIteration,
        );
    });

    let engine = Engine::new();
    engine
        .add_stays(&d.persons, &d.venues, &d.t_in, &d.t_out)
        .unwrap();
    let window = (START, START + DAYS * 86_400);
    let rules = ContactRules {
        min_overlap: 900,
        linger: 0,
    };
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("contacts, one case, 14 days", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            black_box(
                engine
                    .contacts(d.persons[i], window.0, window.1, rules)
                    .unwrap(),
            )
        });
    });
    let mut cases: Vec<u64> = d.persons[..1_200].to_vec();
    cases.sort_unstable();
    cases.dedup();
    cases.truncate(1_000);
    let starts = vec![window.0; cases.len()];
    let ends = vec![window.1; cases.len()];
    group.bench_function("contacts_many, 1000 cases", |b| {
        b.iter(|| black_box(engine.contacts_many(&cases, &starts, &ends, rules).unwrap()));
    });
    group.bench_function("trace, 10 cases, 2 hops", |b| {
        b.iter(|| {
            black_box(
                engine
                    .trace(
                        &cases[..10],
                        &starts[..10],
                        &ends[..10],
                        TraceRules::default(),
                    )
                    .unwrap(),
            )
        });
    });
    group.bench_function("overlaps, 2-hour window", |b| {
        b.iter(|| {
            i = (i + 1) % n;
            black_box(
                engine
                    .overlaps(d.venues[i], d.t_in[i], d.t_in[i] + 7_200)
                    .unwrap(),
            )
        });
    });
    group.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);

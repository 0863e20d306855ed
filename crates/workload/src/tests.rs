use super::*;

fn small(seed: u64) -> Params {
    Params {
        people: 200_000,
        days: 3,
        checkins_per_day: 200_000.0,
        seed,
        ..Params::default()
    }
}

#[test]
fn same_seed_same_stays_however_cut() {
    let model = Model::new(small(7)).unwrap();
    let whole = model.generate(0..model.person_days());
    let mut cut = Stays::default();
    for range in [
        0..1,
        1..40_000,
        40_000..40_001,
        40_001..333_333,
        333_333..model.person_days() + 5,
    ] {
        cut.append(&mut model.generate(range));
    }
    assert_eq!(whole, cut);
    assert_eq!(
        whole,
        Model::new(small(7))
            .unwrap()
            .generate(0..model.person_days())
    );
    assert_ne!(
        whole,
        Model::new(small(8))
            .unwrap()
            .generate(0..model.person_days())
    );
}

#[test]
fn stays_follow_the_model() {
    let params = small(1);
    let model = Model::new(params.clone()).unwrap();
    let s = model.generate(0..model.person_days());
    let n = s.len() as f64;
    let expected = f64::from(params.days) * params.checkins_per_day * (1.0 + params.duplicates);
    assert!(
        (n / expected - 1.0).abs() < 0.02,
        "{n} stays, {expected} expected"
    );
    let end = params.start + i64::from(params.days) * DAY;
    let mut forgotten = 0;
    let mut travelling = 0;
    for i in 0..s.len() {
        assert!((1..=params.people).contains(&s.persons[i]));
        assert!((1..=model.venues()).contains(&s.venues[i]));
        assert!(
            s.t_in[i] < s.t_out[i] && s.t_in[i] >= params.start && s.t_in[i] < end + 120,
            "{} {} {}",
            i,
            s.t_in[i] - params.start,
            s.t_out[i] - s.t_in[i]
        );
        let dwell = s.t_out[i] - s.t_in[i];
        assert!(dwell <= 24 * 3600);
        forgotten += usize::from(dwell > 12 * 3600);
        travelling += usize::from(
            model.province_of_person(s.persons[i]) != model.province_of_venue(s.venues[i]),
        );
    }
    let near = |x: usize, p: f64| (x as f64 / n - p).abs() < p / 4.0;
    let forgotten_share = forgotten as f64 / n;
    assert!(
        (forgotten_share / params.forgotten - 1.0).abs() < 0.1,
        "{forgotten_share} of stays forgotten"
    );
    assert!(
        near(travelling, params.travel),
        "{travelling} away from home"
    );
    // Duplicates sit right after their stay; other stays of a person-day follow one another.
    let mut duplicates = 0;
    for i in 1..s.len() {
        if s.persons[i] == s.persons[i - 1]
            && s.venues[i] == s.venues[i - 1]
            && s.t_out[i] == s.t_out[i - 1]
        {
            duplicates += 1;
            assert!(s.t_in[i] > s.t_in[i - 1] && s.t_in[i] - s.t_in[i - 1] <= 120);
        } else if s.persons[i] == s.persons[i - 1] && s.t_in[i] - s.t_in[i - 1] < DAY / 2 {
            assert!(
                s.t_in[i] > s.t_out[i - 1],
                "stay {i} starts before the last ends"
            );
        }
    }
    assert!(
        near(duplicates, params.duplicates),
        "{duplicates} duplicates"
    );
}

#[test]
fn provinces_and_kinds() {
    let model = Model::new(Params {
        people: 96_200_000,
        days: 1,
        checkins_per_day: 0.0,
        ..Params::default()
    })
    .unwrap();
    let hcmc = PROVINCES.iter().position(|p| p.0 == "79").unwrap();
    let range = &model.provinces[hcmc].people;
    assert!((8_900_000..9_100_000).contains(&(range.end - range.start)));
    assert_eq!(model.venues(), 962_000);
    // Ho Chi Minh City has nine mega-venues: markets, hospitals and bus stations.
    let first = model.provinces[hcmc].venues.start;
    assert_eq!(model.kind(first), Some(Kind::Supermarket));
    assert_eq!(model.kind(first + 1), Some(Kind::Hospital));
    assert_eq!(model.kind(first + 2), Some(Kind::PublicTransport));
    let eateries = (1..=model.venues())
        .filter(|&v| model.kind(v) == Some(Kind::Eatery))
        .count();
    assert!((eateries as f64 / 962_000.0 - 0.22).abs() < 0.005);
    assert_eq!(model.kind(0), None);
    assert_eq!(model.kind(model.venues() + 1), None);
    assert!(model.generate(0..model.person_days()).is_empty());
}

#[test]
fn popularity_is_zipf_like_and_capped() {
    for s in [0.7_f64, 1.0] {
        let popularity = Alias::new(&capped_zipf(10_000, s, 50.0)).unwrap();
        let mut rng = SplitMix64::seed_from_u64(s.to_bits());
        let mut visits = vec![0u32; 10_000];
        for _ in 0..4_000_000 {
            visits[popularity.sample(&mut rng)] += 1;
        }
        // Mean 400 a venue: the busiest sit at the cap, 50 times that ...
        assert!((18_000..22_000).contains(&visits[0]), "{s}: {}", visits[0]);
        assert!(visits[..5].iter().all(|&v| v > 18_000));
        // ... and below the head popularity falls off like rank^-s.
        let ratio = f64::from(visits[2000..2100].iter().sum::<u32>())
            / f64::from(visits[1000..1100].iter().sum::<u32>());
        assert!((ratio / 2f64.powf(-s) - 1.0).abs() < 0.05, "{s}: {ratio}");
    }
    assert_eq!(capped_zipf(3, 0.0, 50.0), vec![1.0; 3]);
    assert_eq!(apportion(100, &[1.0, 1.0, 1.0]), vec![34, 33, 33]);
    assert_eq!(apportion(3, &[1.0, 100.0, 1.0]), vec![1, 1, 1]);
}

#[test]
fn refuses_bad_parameters() {
    for params in [
        Params {
            days: 0,
            ..Params::default()
        },
        Params {
            travel: 1.5,
            ..Params::default()
        },
        Params {
            zipf: f64::NAN,
            ..Params::default()
        },
        Params {
            people: 1000,
            checkins_per_day: 1e6,
            ..Params::default()
        },
        Params {
            people: 10,
            ..Params::default()
        },
    ] {
        assert!(Model::new(params).is_err());
    }
}

#[test]
fn midnight_in_vietnam() {
    assert_eq!(
        local_midnight(Params::default().start + 5),
        Params::default().start
    );
    assert_eq!(
        local_midnight(Params::default().start - 1),
        Params::default().start - DAY
    );
}

#[test]
fn alias_draws_each_value_by_its_weight() {
    const N: u32 = 1_000_000;
    // Zero weights, a dominant one, uneven ones, and a single value.
    let cases: [&[f64]; 4] = [
        &[0.0, 1.0, 0.0, 3.0],
        &[1e3, 1.0, 1.0],
        &[5.0, 0.5, 2.5, 1.0, 1.0],
        &[2.0],
    ];
    let mut rng = SplitMix64::seed_from_u64(9);
    for weights in cases {
        let alias = Alias::new(weights).unwrap();
        let mut seen = vec![0u32; weights.len()];
        for _ in 0..N {
            seen[alias.sample(&mut rng)] += 1;
        }
        let sum: f64 = weights.iter().sum();
        for (&w, &got) in weights.iter().zip(&seen) {
            let p = w / sum;
            let sd = (f64::from(N) * p * (1.0 - p)).sqrt();
            assert!(
                (f64::from(got) - f64::from(N) * p).abs() <= 5.0 * sd + 1.0,
                "{weights:?}: {seen:?}"
            );
            assert_eq!(got == 0, w == 0.0, "{weights:?}: {seen:?}");
        }
    }
    for bad in [
        &[][..],
        &[0.0, 0.0],
        &[1.0, -1.0],
        &[f64::NAN],
        &[f64::INFINITY],
    ] {
        assert!(Alias::new(bad).is_err(), "{bad:?}");
    }
    // Poisson: the mean and variance of its draws, and a mean of zero.
    for mean in [0.0, 2.0, 40.0] {
        let poisson = Alias::poisson(mean).unwrap();
        let draws: Vec<f64> = (0..400_000)
            .map(|_| poisson.sample(&mut rng) as f64)
            .collect();
        let m = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / draws.len() as f64;
        // Within five standard errors.
        let n = draws.len() as f64;
        assert!((m - mean).abs() <= 5.0 * (mean / n).sqrt(), "{mean}: {m}");
        assert!(
            (var - mean).abs() <= 5.0 * ((2.0 * mean * mean + mean) / n).sqrt(),
            "{mean}: {var}"
        );
    }
}

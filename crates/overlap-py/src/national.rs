//! `tokhai_engine._engine.NationalModel`: the `workload` crate's model of
//! national traffic, generated in chunks without the GIL.

use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pyclass(frozen, name = "NationalModel", module = "tokhai_engine._engine")]
pub struct NationalModel {
    inner: workload::Model,
}

#[pymethods]
impl NationalModel {
    #[new]
    #[pyo3(signature = (*, people, days, start, checkins_per_day, per_active, people_per_venue, zipf, mega, travel, forgotten, duplicates, seed))]
    fn new(
        py: Python<'_>,
        people: u64,
        days: u32,
        start: i64,
        checkins_per_day: f64,
        per_active: f64,
        people_per_venue: f64,
        zipf: f64,
        mega: f64,
        travel: f64,
        forgotten: f64,
        duplicates: f64,
        seed: u64,
    ) -> PyResult<Self> {
        let params = workload::Params {
            people,
            days,
            start,
            checkins_per_day,
            per_active,
            people_per_venue,
            zipf,
            mega,
            travel,
            forgotten,
            duplicates,
            seed,
        };
        let inner = py
            .detach(|| workload::Model::new(params))
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(NationalModel { inner })
    }

    #[getter]
    fn person_days(&self) -> u64 {
        self.inner.person_days()
    }

    #[getter]
    fn stays_per_person_day(&self) -> f64 {
        self.inner.stays_per_person_day()
    }

    #[getter]
    fn venues(&self) -> u64 {
        self.inner.venues()
    }

    /// The stays of person-days `[lo, hi)` as four numpy columns.
    fn generate<'py>(&self, py: Python<'py>, lo: u64, hi: u64) -> PyResult<Bound<'py, PyTuple>> {
        let s = py.detach(|| self.inner.generate(lo..hi));
        PyTuple::new(
            py,
            [
                s.persons.into_pyarray(py).into_any(),
                s.venues.into_pyarray(py).into_any(),
                s.t_in.into_pyarray(py).into_any(),
                s.t_out.into_pyarray(py).into_any(),
            ],
        )
    }

    /// Each venue's kind (numbered as `VenueKind` in the protos) and province
    /// (an index into `provinces()`), for venues `1..=venues` in order.
    fn venue_table<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let model = &self.inner;
        let (kinds, provinces): (Vec<u8>, Vec<u8>) = py.detach(|| {
            (1..=model.venues())
                .map(|v| {
                    (
                        model.kind(v).map_or(0, |k| k as u8),
                        model.province_of_venue(v).map_or(u8::MAX, |p| p as u8),
                    )
                })
                .unzip()
        });
        PyTuple::new(
            py,
            [
                kinds.into_pyarray(py).into_any(),
                provinces.into_pyarray(py).into_any(),
            ],
        )
    }

    /// The provinces as `(code, population in thousands)`, in the model's order.
    #[staticmethod]
    fn provinces() -> Vec<(&'static str, u32)> {
        workload::PROVINCES.to_vec()
    }
}

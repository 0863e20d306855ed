//! `tokhai_engine._engine`: the Python face of the `overlap` crate.
//!
//! Converts types, releases the GIL around every call into the engine, and
//! maps engine errors to Python exceptions; on Linux its allocator asks for
//! huge pages for large blocks (`huge`). Checks of dtypes and Python scalars
//! live in the pure-Python package, next to the public signatures.

#[cfg(target_os = "linux")]
mod huge;
mod national;

#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: huge::HugePages = huge::HugePages;

use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use overlap::{Batch, ContactRules, TraceRules};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

create_exception!(
    tokhai_engine._engine,
    InvalidInputError,
    PyValueError,
    "Input the engine refuses: it says which row and what is wrong; nothing was stored."
);
create_exception!(
    tokhai_engine._engine,
    UnknownStayError,
    InvalidInputError,
    "A stay id the engine does not hold."
);
create_exception!(
    tokhai_engine._engine,
    DtypeError,
    PyTypeError,
    "An input whose type cannot be converted safely to the engine's integers."
);

create_exception!(
    tokhai_engine._engine,
    StoreError,
    PyOSError,
    "A durable store's files could not be read, written or synced; nothing of the call was acknowledged."
);
create_exception!(
    tokhai_engine._engine,
    CorruptStoreError,
    StoreError,
    "A store file was damaged after it was written: the message names the file and the byte offset."
);
create_exception!(
    tokhai_engine._engine,
    UnknownFormatError,
    StoreError,
    "A store file of a format version this build does not read."
);
create_exception!(
    tokhai_engine._engine,
    StoreLockedError,
    StoreError,
    "Another open engine, in this or another process, holds the store."
);
create_exception!(
    tokhai_engine._engine,
    StoreInterruptedError,
    StoreError,
    "A change failed midway (a bug): the store takes no change until it is reopened, which replays its log."
);
create_exception!(
    tokhai_engine._engine,
    ClosedError,
    PyValueError,
    "A call to an engine after close()."
);

create_exception!(
    tokhai_engine._engine,
    QueryCancelledError,
    PyException,
    "A query given up because its Cancel was set."
);

/// The one place engine errors become Python exceptions.
fn to_py(err: overlap::Error) -> PyErr {
    use overlap::Error as E;
    let message = err.to_string();
    match err {
        E::UnknownStay { .. } => UnknownStayError::new_err(message),
        E::Io { .. } => StoreError::new_err(message),
        E::Corrupt { .. } => CorruptStoreError::new_err(message),
        E::UnknownVersion { .. } => UnknownFormatError::new_err(message),
        E::Locked { .. } => StoreLockedError::new_err(message),
        E::Interrupted => StoreInterruptedError::new_err(message),
        E::Closed => ClosedError::new_err(message),
        E::Cancelled => QueryCancelledError::new_err(message),
        _ => InvalidInputError::new_err(message),
    }
}

/// Runs `work` without the GIL, so other Python threads go on meanwhile.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl Send + FnOnce() -> overlap::Result<T>,
) -> PyResult<T> {
    py.detach(work).map_err(to_py)
}

type U64s<'py> = PyReadonlyArray1<'py, u64>;
type I64s<'py> = PyReadonlyArray1<'py, i64>;

/// A column copied while the GIL is held. The engine reads its inputs after
/// letting the GIL go, often more than once (checks, then work): another
/// thread changing the caller's array in between would have it act on
/// values it never checked, or index out of bounds. (A large batch of stays
/// is read into its rows instead: `add_stays`.)
fn owned<T: numpy::Element + Copy>(column: &PyReadonlyArray1<'_, T>) -> PyResult<Vec<T>> {
    Ok(column.as_slice()?.to_vec())
}

/// From this many rows on, `add_stays` reads a batch without copying it.
const READ_HOLDING_GIL: usize = 1 << 16;

/// A batch of stays' columns: persons, venues, `t_in`, `t_out`.
type OwnedStays = (Vec<u64>, Vec<u64>, Vec<i64>, Vec<i64>);

/// A batch of stays' four columns, copied as [`owned`] copies one.
fn owned_stays(
    persons: &U64s<'_>,
    venues: &U64s<'_>,
    t_in: &I64s<'_>,
    t_out: &I64s<'_>,
) -> PyResult<OwnedStays> {
    Ok((owned(persons)?, owned(venues)?, owned(t_in)?, owned(t_out)?))
}

/// Numpy columns, moved out of Rust vectors without copying.
macro_rules! columns {
    ($py:expr; $($column:expr),+) => {
        PyTuple::new($py, [$($column.into_pyarray($py).into_any()),+])
    };
}

#[pyclass(frozen, name = "Engine", module = "tokhai_engine._engine")]
struct Engine {
    inner: overlap::Engine,
}

#[pymethods]
impl Engine {
    #[new]
    fn new() -> Self {
        Engine {
            inner: overlap::Engine::new(),
        }
    }

    #[staticmethod]
    fn open(py: Python<'_>, path: std::path::PathBuf, checkpoint_bytes: u64) -> PyResult<Self> {
        let options = overlap::StoreOptions { checkpoint_bytes };
        let inner = detached(py, || overlap::Engine::open_with(&path, options))?;
        Ok(Engine { inner })
    }

    fn is_durable(&self) -> bool {
        self.inner.is_durable()
    }

    fn checkpoint(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, || self.inner.checkpoint())
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, || self.inner.close())
    }

    fn stays_between<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let s = detached(py, || self.inner.stays_between(start, end))?;
        columns!(py; s.stay_id, s.person, s.venue, s.t_in, s.t_out)
    }

    // Without the GIL, as every call: the state's lock may be queued behind
    // a writer that waits for a long query.
    fn __len__(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.len())
    }

    fn memory_bytes(&self, py: Python<'_>) -> usize {
        py.detach(|| self.inner.memory_bytes())
    }

    fn add_stays<'py>(
        &self,
        py: Python<'py>,
        persons: U64s<'py>,
        venues: U64s<'py>,
        t_in: I64s<'py>,
        t_out: I64s<'py>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        // A large batch is read while the GIL is held (see `overlap::Batch`),
        // sparing a copy of its columns; a small one is copied, which holds
        // the GIL for less time than reading it would.
        let (p, v) = (persons.as_slice()?, venues.as_slice()?);
        let ids = if p.len() < READ_HOLDING_GIL {
            let (p, v, a, b) = owned_stays(&persons, &venues, &t_in, &t_out)?;
            detached(py, || self.inner.add_stays(&p, &v, &a, &b))?
        } else {
            let batch = Batch::read(p, v, t_in.as_slice()?, t_out.as_slice()?);
            detached(py, || self.inner.add_batch(batch))?
        };
        Ok(ids.into_pyarray(py))
    }

    /// `add_stays`'s checks, storing nothing: for the rows before a value
    /// the Python side refused, so that the batch's first bad row is named.
    fn check_stays(
        &self,
        py: Python<'_>,
        persons: U64s<'_>,
        venues: U64s<'_>,
        t_in: I64s<'_>,
        t_out: I64s<'_>,
    ) -> PyResult<()> {
        let (p, v, a, b) = owned_stays(&persons, &venues, &t_in, &t_out)?;
        // Without the GIL: an expiry may hold the writer's lock for seconds.
        detached(py, || self.inner.check_stays(&p, &v, &a, &b))
    }

    fn stays_by_id<'py>(
        &self,
        py: Python<'py>,
        stay_ids: U64s<'py>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let ids = owned(&stay_ids)?;
        let s = detached(py, || self.inner.stays_by_id(&ids))?;
        columns!(py; s.stay_id, s.person, s.venue, s.t_in, s.t_out)
    }

    fn find_stays<'py>(
        &self,
        py: Python<'py>,
        persons: U64s<'py>,
        venues: U64s<'py>,
        t_in: I64s<'py>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let (p, v, a) = (owned(&persons)?, owned(&venues)?, owned(&t_in)?);
        Ok(detached(py, || self.inner.find_stays(&p, &v, &a))?.into_pyarray(py))
    }

    fn set_checkout(&self, py: Python<'_>, stay_ids: U64s<'_>, t_out: I64s<'_>) -> PyResult<()> {
        let (ids, t) = (owned(&stay_ids)?, owned(&t_out)?);
        detached(py, || self.inner.set_checkout(&ids, &t))
    }

    fn expire_before(&self, py: Python<'_>, t: i64) -> PyResult<usize> {
        detached(py, || self.inner.expire_before(t))
    }

    fn overlaps<'py>(
        &self,
        py: Python<'py>,
        venue: u64,
        start: i64,
        end: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let s = detached(py, || self.inner.overlaps(venue, start, end))?;
        columns!(py; s.person, s.t_in, s.t_out)
    }

    fn checkins_per_venue<'py>(
        &self,
        py: Python<'py>,
        start: i64,
        end: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (venues, counts) = detached(py, || self.inner.checkins_per_venue(start, end))?;
        columns!(py; venues, counts)
    }

    fn present<'py>(
        &self,
        py: Python<'py>,
        venue: u64,
        start: i64,
        end: i64,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        Ok(detached(py, || self.inner.present(venue, start, end))?.into_pyarray(py))
    }

    fn present_many<'py>(
        &self,
        py: Python<'py>,
        venues: U64s<'py>,
        starts: I64s<'py>,
        ends: I64s<'py>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (venues, starts, ends) = (owned(&venues)?, owned(&starts)?, owned(&ends)?);
        let (window, person) = detached(py, || self.inner.present_many(&venues, &starts, &ends))?;
        columns!(py; window, person)
    }

    fn contacts<'py>(
        &self,
        py: Python<'py>,
        person: u64,
        start: i64,
        end: i64,
        min_overlap: i64,
        linger: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let rules = ContactRules {
            min_overlap,
            linger,
        };
        let c = detached(py, || self.inner.contacts(person, start, end, rules))?;
        columns!(py; c.person, c.exposure, c.first_contact)
    }

    fn contacts_many<'py>(
        &self,
        py: Python<'py>,
        persons: U64s<'py>,
        starts: I64s<'py>,
        ends: I64s<'py>,
        min_overlap: i64,
        linger: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (p, s, e) = (owned(&persons)?, owned(&starts)?, owned(&ends)?);
        let rules = ContactRules {
            min_overlap,
            linger,
        };
        let c = detached(py, || self.inner.contacts_many(&p, &s, &e, rules))?;
        columns!(py; c.case, c.person, c.exposure, c.first_contact)
    }

    fn exposure_sites<'py>(
        &self,
        py: Python<'py>,
        persons: U64s<'py>,
        starts: I64s<'py>,
        ends: I64s<'py>,
        linger: i64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (p, s, e) = (owned(&persons)?, owned(&starts)?, owned(&ends)?);
        let sites = detached(py, || self.inner.exposure_sites(&p, &s, &e, linger))?;
        columns!(py; sites.case, sites.venue, sites.start, sites.end)
    }

    #[pyo3(signature = (persons, starts, ends, hops, min_overlap, linger, latency, until, cancel=None))]
    fn trace<'py>(
        &self,
        py: Python<'py>,
        persons: U64s<'py>,
        starts: I64s<'py>,
        ends: I64s<'py>,
        hops: u32,
        min_overlap: i64,
        linger: i64,
        latency: i64,
        until: Option<i64>,
        cancel: Option<Bound<'py, Cancel>>,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let (p, s, e) = (owned(&persons)?, owned(&starts)?, owned(&ends)?);
        let cancel = cancel.map_or_else(Default::default, |c| c.get().0.clone());
        let rules = TraceRules {
            hops,
            contact: ContactRules {
                min_overlap,
                linger,
            },
            latency,
            until,
        };
        let t = detached(py, || self.inner.trace_until(&p, &s, &e, rules, &cancel))?;
        columns!(py; t.person, t.hop, t.exposed_at, t.source, t.exposure)
    }
}

/// A flag a long query reads as it goes: set (from any thread), the query
/// gives up with `QueryCancelledError` soon after.
#[pyclass(frozen, name = "Cancel", module = "tokhai_engine._engine")]
#[derive(Default)]
struct Cancel(Arc<overlap::Cancel>);

#[pymethods]
impl Cancel {
    #[new]
    fn new() -> Self {
        Cancel::default()
    }

    fn set(&self) {
        self.0.set();
    }

    fn is_set(&self) -> bool {
        self.0.is_set()
    }
}

#[pymodule]
fn _engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    #[cfg(target_os = "linux")]
    huge::configure();
    m.add_class::<Engine>()?;
    m.add_class::<Cancel>()?;
    m.add_class::<national::NationalModel>()?;
    m.add("InvalidInputError", m.py().get_type::<InvalidInputError>())?;
    m.add("UnknownStayError", m.py().get_type::<UnknownStayError>())?;
    m.add("DtypeError", m.py().get_type::<DtypeError>())?;
    m.add(
        "QueryCancelledError",
        m.py().get_type::<QueryCancelledError>(),
    )?;
    m.add("StoreError", m.py().get_type::<StoreError>())?;
    m.add("CorruptStoreError", m.py().get_type::<CorruptStoreError>())?;
    m.add(
        "UnknownFormatError",
        m.py().get_type::<UnknownFormatError>(),
    )?;
    m.add("StoreLockedError", m.py().get_type::<StoreLockedError>())?;
    m.add(
        "StoreInterruptedError",
        m.py().get_type::<StoreInterruptedError>(),
    )?;
    m.add("ClosedError", m.py().get_type::<ClosedError>())?;
    m.add("MIN_TIME", overlap::MIN_TIME)?;
    m.add("MAX_TIME", overlap::MAX_TIME)?;
    Ok(())
}

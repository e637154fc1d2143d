/* Optional C speedups for the search read path (see shoal/document/accel.py).
 *
 * Turning stored records into Documents and Documents into scored matches is a few
 * attribute stores per object; in Python that costs more than the native ANN search it
 * follows. These functions do the same stores in C. Every function has a pure-Python
 * twin that is the reference (and the fallback when this module is not built): the
 * tests run both.
 *
 * Slots are written through the offsets of the classes' __slots__ member descriptors,
 * read once in init(): the objects are ordinary instances of the Python classes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>

/* Document.__slots__ (without __weakref__), in this order */
static const char *DOC_SLOTS[] = {
    "_id", "parent_id", "granularity", "adjacency", "_text", "_blob", "_tensor",
    "_embedding", "uri", "mime_type", "_tags", "modality", "offset", "location", "weight",
    "_chunks", "_matches", "_scores", "_evaluations", NULL};
enum { D_ID, D_PARENT, D_GRAN, D_ADJ, D_TEXT, D_BLOB, D_TENSOR, D_EMB, D_URI, D_MIME,
       D_TAGS, D_MODALITY, D_OFFSET, D_LOCATION, D_WEIGHT, D_CHUNKS, D_MATCHES, D_SCORES,
       D_EVALS, D_N };

static PyTypeObject *doc_type = NULL;
static Py_ssize_t doc_off[D_N];
static PyObject *zero = NULL;

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Store a new reference to value in a slot (the old value, if any, is released). */
static inline void set_slot(PyObject *obj, Py_ssize_t off, PyObject *value) {
    PyObject *old = SLOT(obj, off);
    Py_INCREF(value);
    SLOT(obj, off) = value;
    Py_XDECREF(old);
}

static int slot_offsets(PyTypeObject *type, const char **names, Py_ssize_t *out) {
    for (int i = 0; names[i] != NULL; i++) {
        PyObject *descr = PyDict_GetItemString(type->tp_dict, names[i]);
        if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", type->tp_name,
                         names[i]);
            return -1;
        }
        PyMemberDef *m = ((PyMemberDescrObject *)descr)->d_member;
        if (m->type != T_OBJECT_EX || (m->flags & READONLY)) {
            PyErr_Format(PyExc_TypeError, "%s.%s is not a writable object slot",
                         type->tp_name, names[i]);
            return -1;
        }
        out[i] = m->offset;
    }
    return 0;
}

/* init(Document) */
static PyObject *fast_init(PyObject *self, PyObject *args) {
    PyObject *d;
    if (!PyArg_ParseTuple(args, "O!:init", &PyType_Type, &d))
        return NULL;
    const uint16_t one = 1;
    if (*(const unsigned char *)&one != 1) { /* records are little-endian */
        PyErr_SetString(PyExc_ImportError, "shoal.document._fast needs a little-endian machine");
        return NULL;
    }
    /* new_document() must set every slot: Document may have no slot this file does not know */
    PyObject *slots = PyObject_GetAttrString(d, "__slots__");
    if (slots == NULL)
        return NULL;
    Py_ssize_t nslots = PySequence_Size(slots);
    Py_DECREF(slots);
    if (nslots != D_N + 1) { /* + __weakref__ */
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "Document has %zd slots, shoal.document._fast knows %d",
                         nslots, D_N + 1);
        return NULL;
    }
    if (slot_offsets((PyTypeObject *)d, DOC_SLOTS, doc_off) < 0)
        return NULL;
    Py_INCREF(d);
    Py_XSETREF(doc_type, (PyTypeObject *)d);
    if (zero == NULL && (zero = PyLong_FromLong(0)) == NULL)
        return NULL;
    Py_RETURN_NONE;
}

static int ready(void) {
    if (doc_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "shoal.document._fast.init() was not called");
        return 0;
    }
    return 1;
}

/* A Document with every slot None (granularity / adjacency 0), then id and text set. */
static PyObject *new_document(PyObject *id, PyObject *text) {
    PyObject *d = doc_type->tp_alloc(doc_type, 0);
    if (d == NULL)
        return NULL;
    for (int i = 0; i < D_N; i++)
        set_slot(d, doc_off[i], (i == D_GRAN || i == D_ADJ) ? zero : Py_None);
    set_slot(d, doc_off[D_ID], id);
    set_slot(d, doc_off[D_TEXT], text);
    return d;
}

#define HEAD_SIZE 25 /* <qBIIII: label, flags, len id / text / tags / attrs */
#define ABSENT 0xFFFFFFFFu
#define IN_BLOB 1

static uint32_t u32(const char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static PyObject *decode_part(const char *p, Py_ssize_t *o, uint32_t len, Py_ssize_t n) {
    if (len == ABSENT)
        Py_RETURN_NONE;
    if ((Py_ssize_t)len > n - *o) {
        PyErr_SetString(PyExc_ValueError, "a record part runs past the end of the record");
        return NULL;
    }
    PyObject *s = PyUnicode_DecodeUTF8(p + *o, len, NULL);
    *o += len;
    return s;
}

/* documents(recs) -> (docs, labels, want, tagged, rest)
 *
 * For each record (bytes, the layout of shoal.docstore.lmdb_records): a new Document of
 * id and text, or None when the record has codec bytes (its index is in `rest`, the caller
 * decodes it). `tagged` lists the Documents whose _tags holds the tags JSON *text* still to
 * be parsed. labels: each record's vector label (-1: none); want: the Documents whose
 * embedding the caller reads from the vector column. A damaged record raises ValueError /
 * UnicodeDecodeError. */
static PyObject *fast_documents(PyObject *self, PyObject *recs) {
    if (!ready())
        return NULL;
    if (!PyList_Check(recs)) {
        PyErr_SetString(PyExc_TypeError, "documents() takes a list of bytes");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(recs);
    PyObject *docs = PyList_New(count), *want = PyList_New(0), *labels = PyList_New(0);
    PyObject *tagged = PyList_New(0), *rest = PyList_New(0);
    if (!docs || !want || !labels || !tagged || !rest)
        goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *rec = PyList_GET_ITEM(recs, i);
        if (!PyBytes_Check(rec)) {
            PyErr_SetString(PyExc_TypeError, "documents() takes a list of bytes");
            goto fail;
        }
        const char *p = PyBytes_AS_STRING(rec);
        Py_ssize_t n = PyBytes_GET_SIZE(rec);
        if (n < HEAD_SIZE) {
            PyErr_SetString(PyExc_ValueError, "a record is shorter than its header");
            goto fail;
        }
        int64_t label;
        memcpy(&label, p, 8);
        unsigned char flags = (unsigned char)p[8];
        uint32_t li = u32(p + 9), lt = u32(p + 13), lg = u32(p + 17), la = u32(p + 21);
        Py_ssize_t o = HEAD_SIZE;
        PyObject *id = decode_part(p, &o, li, n);
        if (id == NULL)
            goto fail;
        PyObject *text = decode_part(p, &o, lt, n);
        if (text == NULL) { Py_DECREF(id); goto fail; }
        PyObject *tags = decode_part(p, &o, lg, n);
        if (tags == NULL) { Py_DECREF(id); Py_DECREF(text); goto fail; }
        if (la != ABSENT) {
            if ((Py_ssize_t)la > n - o) {
                Py_DECREF(id); Py_DECREF(text); Py_DECREF(tags);
                PyErr_SetString(PyExc_ValueError, "a record part runs past the end of the record");
                goto fail;
            }
            o += la;
        }
        PyObject *d = NULL, *idx = PyLong_FromSsize_t(i);
        int bad = idx == NULL;
        if (!bad && o < n) { /* codec bytes: the caller decodes this one */
            Py_INCREF(Py_None);
            PyList_SET_ITEM(docs, i, Py_None);
            bad = PyList_Append(rest, idx) < 0;
        } else if (!bad) {
            d = new_document(id, text);
            if (d == NULL)
                bad = 1;
            else {
                PyList_SET_ITEM(docs, i, d);
                if (tags != Py_None) {
                    set_slot(d, doc_off[D_TAGS], tags);
                    bad = PyList_Append(tagged, idx) < 0;
                }
            }
        }
        if (!bad) {
            PyObject *lab = PyLong_FromLongLong(label < 0 ? -1 : label);
            bad = lab == NULL || PyList_Append(labels, lab) < 0;
            Py_XDECREF(lab);
        }
        if (!bad && label >= 0 && !(flags & IN_BLOB))
            bad = PyList_Append(want, idx) < 0;
        Py_XDECREF(idx);
        Py_DECREF(id); Py_DECREF(text); Py_DECREF(tags);
        if (bad)
            goto fail;
    }
    return Py_BuildValue("(NNNNN)", docs, labels, want, tagged, rest);
fail:
    /* unset items of a half-filled list are NULL, which list dealloc skips */
    Py_XDECREF(docs); Py_XDECREF(want); Py_XDECREF(labels); Py_XDECREF(tagged); Py_XDECREF(rest);
    return NULL;
}

/* set_embeddings(docs, want, rows): docs[want[j]]._embedding = rows[j] */
static PyObject *fast_set_embeddings(PyObject *self, PyObject *args) {
    PyObject *docs, *want, *rows;
    if (!PyArg_ParseTuple(args, "O!O!O:set_embeddings", &PyList_Type, &docs, &PyList_Type,
                          &want, &rows))
        return NULL;
    if (!ready())
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(want);
    for (Py_ssize_t j = 0; j < n; j++) {
        Py_ssize_t i = PyLong_AsSsize_t(PyList_GET_ITEM(want, j));
        if (i == -1 && PyErr_Occurred())
            return NULL;
        if (i < 0 || i >= PyList_GET_SIZE(docs)) {
            PyErr_SetString(PyExc_IndexError, "set_embeddings: index out of range");
            return NULL;
        }
        PyObject *d = PyList_GET_ITEM(docs, i);
        if (!PyObject_TypeCheck(d, doc_type)) {
            PyErr_SetString(PyExc_TypeError, "set_embeddings: not a Document");
            return NULL;
        }
        PyObject *row = PySequence_GetItem(rows, j);
        if (row == NULL)
            return NULL;
        set_slot(d, doc_off[D_EMB], row);
        Py_DECREF(row);
    }
    Py_RETURN_NONE;
}

/* A match Document whose every slot holds an atomic value (None, str, int, float, bytes,
 * an ndarray: not GC types) or a container the collector does not track (a tuple or a
 * dict of such values) cannot be part of a reference cycle: untrack it, so that the
 * collector does not walk the ten thousand matches of a batch search (as CPython does
 * itself for tuples and dicts of atomic values). Document tracks itself again wherever
 * it hands out or takes a container (see Document._track); a cycle made through a plain
 * field of an untracked match (``m.location = [m]``) is not collected. Only exact
 * Documents: a subclass may have a __dict__. */
static inline void untrack_if_atomic(PyObject *m) {
    if (!Py_IS_TYPE(m, doc_type) || !PyObject_GC_IsTracked(m))
        return;
    for (int i = 0; i < D_N; i++) {
        PyObject *v = SLOT(m, doc_off[i]);
        if (v != NULL && v != Py_None && PyObject_IS_GC(v) && PyObject_GC_IsTracked(v))
            return;
    }
    PyObject_GC_UnTrack(m);
}

/* track(doc): let the cyclic collector see doc again (a no-op when it does). */
static PyObject *fast_track(PyObject *self, PyObject *d) {
    if (doc_type != NULL && Py_IS_TYPE(d, doc_type) && !PyObject_GC_IsTracked(d))
        PyObject_GC_Track(d);
    Py_RETURN_NONE;
}

/* score_matches(scores, keys, unique, docs, fresh, name, copy) -> list[list[Document]]
 *
 * scores / keys: lists of rows (lists of float / int, -1 padded); docs[i] is the Document
 * of key unique[i]; fresh: None, or a list of bools saying which docs are new objects the
 * caller owns. A fresh Document serves as is (its matches and evaluations cleared) for
 * the first occurrence of its key; every other occurrence is copy(doc); a key without a
 * Document is skipped. Each match gets the pending score _scores = (name, score), which
 * Document.scores turns into a NamedScoreMap on first access (see score.py). A match
 * that holds only atomic values leaves the cyclic collector (see untrack_if_atomic). */
static PyObject *fast_score_matches(PyObject *self, PyObject *args) {
    PyObject *scores, *keys, *unique, *docs, *fresh, *name, *copy;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OUO:score_matches", &PyList_Type, &scores,
                          &PyList_Type, &keys, &PyList_Type, &unique, &PyList_Type, &docs,
                          &fresh, &name, &copy))
        return NULL;
    if (!ready())
        return NULL;
    Py_ssize_t nrows = PyList_GET_SIZE(keys), nu = PyList_GET_SIZE(unique);
    if (PyList_GET_SIZE(scores) != nrows || PyList_GET_SIZE(docs) != nu ||
        (fresh != Py_None && (!PyList_Check(fresh) || PyList_GET_SIZE(fresh) != nu))) {
        PyErr_SetString(PyExc_ValueError, "score_matches: lists of different lengths");
        return NULL;
    }
    PyObject *found = PyDict_New(), *spare = PyDict_New(), *out = NULL;
    if (found == NULL || spare == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < nu; i++) {
        PyObject *key = PyList_GET_ITEM(unique, i), *d = PyList_GET_ITEM(docs, i);
        if (d == Py_None)
            continue;
        if (PyDict_SetItem(found, key, d) < 0)
            goto fail;
        if (fresh != Py_None) {
            int f = PyObject_IsTrue(PyList_GET_ITEM(fresh, i));
            if (f < 0)
                goto fail;
            if (f) {
                if (!PyObject_TypeCheck(d, doc_type)) {
                    PyErr_SetString(PyExc_TypeError, "score_matches: not a Document");
                    goto fail;
                }
                set_slot(d, doc_off[D_MATCHES], Py_None);
                set_slot(d, doc_off[D_EVALS], Py_None);
                if (PyDict_SetItem(spare, key, d) < 0)
                    goto fail;
            }
        }
    }
    out = PyList_New(nrows);
    if (out == NULL)
        goto fail;
    for (Py_ssize_t r = 0; r < nrows; r++) {
        PyObject *krow = PyList_GET_ITEM(keys, r), *srow = PyList_GET_ITEM(scores, r);
        if (!PyList_Check(krow) || !PyList_Check(srow) ||
            PyList_GET_SIZE(krow) != PyList_GET_SIZE(srow)) {
            PyErr_SetString(PyExc_ValueError, "score_matches: rows must be lists of equal length");
            goto fail;
        }
        Py_ssize_t k = PyList_GET_SIZE(krow);
        PyObject *row = PyList_New(0);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(out, r, row);
        for (Py_ssize_t j = 0; j < k; j++) {
            PyObject *key = PyList_GET_ITEM(krow, j), *m = PyDict_GetItemWithError(spare, key);
            if (m != NULL) {
                Py_INCREF(m);
                if (PyDict_DelItem(spare, key) < 0) { Py_DECREF(m); goto fail; }
            } else {
                if (PyErr_Occurred())
                    goto fail;
                PyObject *d = PyDict_GetItemWithError(found, key);
                if (d == NULL) {
                    if (PyErr_Occurred())
                        goto fail;
                    continue;
                }
                m = PyObject_CallOneArg(copy, d);
                if (m == NULL)
                    goto fail;
                if (!PyObject_TypeCheck(m, doc_type)) {
                    Py_DECREF(m);
                    PyErr_SetString(PyExc_TypeError, "score_matches: copy() did not return a Document");
                    goto fail;
                }
            }
            PyObject *pending = PyTuple_Pack(2, name, PyList_GET_ITEM(srow, j));
            int bad = pending == NULL;
            if (!bad) {
                /* a str and a float: the collector would untrack it on its first pass
                 * (as it does every tuple of atomic values); do it now and spare it */
                if (PyUnicode_CheckExact(name) && PyFloat_CheckExact(PyList_GET_ITEM(srow, j)))
                    PyObject_GC_UnTrack(pending);
                set_slot(m, doc_off[D_SCORES], pending);
                untrack_if_atomic(m);
                bad = PyList_Append(row, m) < 0;
            }
            Py_XDECREF(pending);
            Py_DECREF(m);
            if (bad)
                goto fail;
        }
    }
    Py_DECREF(found);
    Py_DECREF(spare);
    return out;
fail:
    Py_XDECREF(found);
    Py_XDECREF(spare);
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"init", fast_init, METH_VARARGS, "init(Document, NamedScore, NamedScoreMap)"},
    {"documents", fast_documents, METH_O,
     "documents(recs) -> (docs, labels, want, tagged, rest): see the C source"},
    {"set_embeddings", fast_set_embeddings, METH_VARARGS,
     "set_embeddings(docs, want, rows): docs[want[j]]._embedding = rows[j]"},
    {"score_matches", fast_score_matches, METH_VARARGS,
     "score_matches(scores, keys, unique, docs, fresh, name, copy) -> matches per row"},
    {"track", fast_track, METH_O, "track(doc): the cyclic GC sees doc again (no-op if it does)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "shoal.document._fast",
                                    "C speedups of the search read path.", -1, methods};

PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&module); }

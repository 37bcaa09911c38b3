/*
 * The fan-out's sends, made from C: one line to each of many sockets, with
 * the GIL let go once for all of them (chatsvc.streams.eagertcp.send_each
 * says what it does; this is its compiled form, and the Python one there is
 * what runs where this was not built). A top-level module, _chatsvc_sendeach,
 * so that it is found beside the installed package even when the package
 * itself is imported from a source tree (as the tests do).
 *
 * Python's socket.send costs a call, a tuple of arguments, a buffer, letting
 * go of the GIL and taking it back, and an int for its result, for each
 * recipient of each line: measured, 3-6% of the server's CPU a delivery in a
 * room of 200 and 12% in one of 2,000 (docs/benchmarks.md). Here that is paid
 * once a line.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <sys/socket.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0 /* Python ignores SIGPIPE: EPIPE comes back as an error. */
#endif

/* Descriptors sent to without taking memory: a room's members, most times. */
#define ON_STACK 256

PyDoc_STRVAR(send_each_doc,
"send_each(fds, data, /)\n--\n\n"
"Send data to each of the non-blocking sockets fds (a list of descriptors),\n"
"each once. None if every one took all of it; else a list of\n"
"(index in fds, bytes sent) for those that did not, 0 where send failed.");

static PyObject *
send_each(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "send_each() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *fds = args[0];
    if (!PyList_Check(fds)) {
        PyErr_Format(PyExc_TypeError, "send_each() fds must be a list, not %.100s",
                     Py_TYPE(fds)->tp_name);
        return NULL;
    }
    Py_buffer data;
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t n = PyList_GET_SIZE(fds);
    int stack_fds[ON_STACK];
    Py_ssize_t stack_sent[ON_STACK];
    int *cfds = stack_fds;
    Py_ssize_t *sent = stack_sent;
    if (n > ON_STACK) {
        cfds = PyMem_New(int, n);
        sent = PyMem_New(Py_ssize_t, n);
        if (cfds == NULL || sent == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    /* Plain ints only: nothing here may run Python code, which could change the list. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(fds, i);
        if (!PyLong_Check(item)) {
            PyErr_Format(PyExc_TypeError, "send_each() fds must be ints, not %.100s",
                         Py_TYPE(item)->tp_name);
            goto done;
        }
        long fd = PyLong_AsLong(item);
        if (fd == -1 && PyErr_Occurred()) {
            goto done;
        }
        if (fd < 0 || fd > INT_MAX) {
            PyErr_Format(PyExc_ValueError, "send_each() got %ld, not a file descriptor", fd);
            goto done;
        }
        cfds[i] = (int)fd;
    }

    Py_ssize_t short_sends = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        ssize_t r;
        do {
            r = send(cfds[i], data.buf, (size_t)data.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        } while (r < 0 && errno == EINTR);
        sent[i] = r < 0 ? 0 : (Py_ssize_t)r;
        if (sent[i] != data.len) {
            short_sends++;
        }
    }
    Py_END_ALLOW_THREADS

    if (short_sends == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    result = PyList_New(short_sends);
    if (result == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0, k = 0; i < n; i++) {
        if (sent[i] == data.len) {
            continue;
        }
        PyObject *item = Py_BuildValue("(nn)", i, sent[i]);
        if (item == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, k++, item);
    }

done:
    if (cfds != stack_fds) {
        PyMem_Free(cfds);
    }
    if (sent != stack_sent) {
        PyMem_Free(sent);
    }
    PyBuffer_Release(&data);
    return result;
}

static PyMethodDef methods[] = {
    {"send_each", (PyCFunction)(void (*)(void))send_each, METH_FASTCALL, send_each_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot slots[] = {
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_chatsvc_sendeach",
    .m_doc = "The fan-out's sends, made from C (chatsvc.streams.eagertcp.send_each).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit__chatsvc_sendeach(void)
{
    return PyModuleDef_Init(&module);
}

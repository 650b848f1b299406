// descent-pyrunner: runs the Python test suite inside this process's own embedded interpreter
// (the libpython of the python3 on PATH), so the suite exercises libdescent.so loaded into a
// Swift host as well as from a stock python3. Exits with pytest's status.
//
// Usage: descent-pyrunner [pytest arguments...]   (default: python/tests)
// The repository's python/ folder is put first on sys.path; DESCENT_PYTHON_PATH overrides it.
import CPythonBridge

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
let pythonPath: String = {
    if let override = getenv("DESCENT_PYTHON_PATH") { return String(cString: override) }
    return "python"
}()
var pytestArguments = Array(arguments.dropFirst())
if pytestArguments.isEmpty { pytestArguments = ["python/tests"] }
let argv = [arguments.first ?? "descent-pyrunner"] + pytestArguments

var cStrings: [UnsafePointer<CChar>?] = argv.map { UnsafePointer(strdup($0)) }
let status = cStrings.withUnsafeBufferPointer { buffer in
    descent_run_pytest(pythonPath, Int32(argv.count), buffer.baseAddress)
}
for pointer in cStrings { free(UnsafeMutableRawPointer(mutating: pointer)) }
cStrings.removeAll()
exit(status)

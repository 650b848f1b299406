// swift-tools-version:6.0
// Descent: a gradient-descent engine with a Swift core and a plain C ABI.
//
// Products:
//   libdescent.so      the C ABI (Sources/DescentC over the core in Sources/Descent)
//   descent-pyrunner   an executable embedding the python3 on PATH, which runs the pytest suite
//
// Build the library with `make` (it adds -static-stdlib so the .so loads anywhere); see README.md.
import PackageDescription
import Foundation

/// Asks the `python3` on PATH (or $DESCENT_PYTHON) where its headers and libpython live, so the
/// embedded runner links the interpreter that has NumPy and pytest, with an rpath to its LIBDIR.
func pythonEmbedding() -> (include: String, libDir: String, library: String, executable: String)? {
    let python = ProcessInfo.processInfo.environment["DESCENT_PYTHON"] ?? "python3"
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [python, "-c", """
        import sysconfig
        v = sysconfig.get_config_var
        print(sysconfig.get_paths()['include'])
        print(v('LIBDIR'))
        print('python' + v('LDVERSION'))
        import sys; print(sys.executable)
        """]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return nil }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
          let text = String(data: data, encoding: .utf8) else { return nil }
    let lines = text.split(separator: "\n").map(String.init)
    guard lines.count >= 4 else { return nil }
    return (lines[0], lines[1], lines[2], lines[3])
}

let python = pythonEmbedding()
let pythonCFlags: [String] = python.map { ["-I", $0.include] } ?? []
// sys.executable inside the embedded interpreter: the real python3, so tests can spawn it.
let pythonDefines: [CSetting] = python.map {
    [.define("DESCENT_PYTHON_EXECUTABLE", to: "\"\($0.executable)\"")]
} ?? []
let pythonLinkFlags: [String] = python.map {
    ["-L", $0.libDir, "-l\($0.library)", "-Xlinker", "-rpath", "-Xlinker", $0.libDir]
} ?? []

/// The C ABI's major version, `DESCENT_ABI_VERSION` in include/descent.h: the library's soname
/// is libdescent.so.<version> (see README.md, "Versions").
func abiVersion() -> String? {
    let header = Context.packageDirectory + "/include/descent.h"
    guard let text = try? String(contentsOfFile: header, encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("#define DESCENT_ABI_VERSION ") {
        let value = line.dropFirst("#define DESCENT_ABI_VERSION ".count).prefix { $0.isNumber }
        if !value.isEmpty { return String(value) }
    }
    return nil
}
let sonameFlags: [String] = abiVersion().map { ["-Xlinker", "-soname=libdescent.so.\($0)"] } ?? []

/// Flags of the C-ABI target only (never of `Descent` or `DescentSupport`, which another package
/// builds when it depends on the `Descent` library product: SwiftPM rejects `unsafeFlags` in
/// the targets of a product used from a versioned remote dependency).
let coreSwiftFlags: [SwiftSetting] = [
    .unsafeFlags(["-Xcc", "-fno-math-errno", "-enforce-exclusivity=unchecked"]),
]

let package = Package(
    name: "Descent",
    products: [
        .library(name: "descent", type: .dynamic, targets: ["DescentC"]),
        .library(name: "Descent", targets: ["Descent"]),
        .executable(name: "descent-pyrunner", targets: ["descent-pyrunner"]),
    ],
    targets: [
        // C helpers the Swift core needs: the CBLAS declarations and the thread-local error text.
        .target(
            name: "DescentSupport",
            linkerSettings: [.linkedLibrary("openblas"), .linkedLibrary("m")]
        ),
        // The pure Swift core: tensors, kernels, gradients, optimizers. Knows nothing of C handles.
        .target(
            name: "Descent",
            dependencies: ["DescentSupport"]
        ),
        // The C ABI: @c export shims, the handle table, status codes. No math here.
        .target(
            name: "DescentC",
            dependencies: ["Descent", "DescentSupport"],
            exclude: ["exports.map"],
            swiftSettings: coreSwiftFlags + [
                .unsafeFlags(["-emit-clang-header-path",
                              Context.packageDirectory + "/.build/descent-generated.h"]),
            ],
            linkerSettings: [
                .unsafeFlags(["-Xlinker", "--version-script=" + Context.packageDirectory
                              + "/Sources/DescentC/exports.map"] + sonameFlags),
            ]
        ),
        .target(
            name: "CPythonBridge",
            cSettings: [.unsafeFlags(pythonCFlags)] + pythonDefines,
            linkerSettings: [.unsafeFlags(pythonLinkFlags)]
        ),
        .executableTarget(
            name: "descent-pyrunner",
            dependencies: ["CPythonBridge"],
            swiftSettings: [.unsafeFlags(pythonCFlags.flatMap { ["-Xcc", $0] })]
        ),
        .testTarget(
            name: "DescentTests",
            dependencies: ["Descent"]
        ),
    ]
)

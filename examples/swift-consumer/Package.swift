// swift-tools-version:6.0
// A Swift program that uses Descent as a package dependency, the way any other package would:
// by git URL and version. Build and run it with
//
//     DESCENT_GIT_URL=https://your.host/descent.git swift run -c release
//
// Without DESCENT_GIT_URL it depends on the repository this example sits in (a file:// URL),
// which must then carry a release tag (`git tag 0.1.0`). scripts/check-swift-consumer.sh does
// exactly that on a snapshot of the working tree (`make test` runs it).
import PackageDescription

let suffix = "/examples/swift-consumer"
let repository = Context.packageDirectory.hasSuffix(suffix)
    ? String(Context.packageDirectory.dropLast(suffix.count)) : Context.packageDirectory + "/../.."
let descentURL = Context.environment["DESCENT_GIT_URL"] ?? "file://" + repository

let package = Package(
    name: "DescentExample",
    dependencies: [
        .package(url: descentURL, from: "0.1.0"),
    ],
    targets: [
        .executableTarget(
            name: "DescentExample",
            dependencies: [.product(name: "Descent", package: "descent")]
        ),
    ]
)

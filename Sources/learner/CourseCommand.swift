import ArgumentParser
import Curriculum
import Foundation

/// `learner course show NAME`: print a course's levels (a name in Courses/ or a file).
struct CourseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "course", abstract: "Courses: ordered levels of concepts passed on mastery.", subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a course's levels.")
        @Argument(help: "A course name in Courses/ (e.g. grade1) or a course file.") var name: String

        func run() throws {
            do { print(try Course.load(name).text, terminator: "") } catch let e as CourseError {
                FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
                throw ExitCode(64)
            }
        }
    }
}

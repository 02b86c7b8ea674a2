# lit configuration: the IR and pass tests under tests/ (*.ir, *.test).
import os
import lit.formats

config.name = "reel"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".ir", ".test"]
config.test_source_root = os.path.join(config.reel_source_dir, "tests")
config.excludes = ["support", "CMakeLists.txt", "lit", "Inputs"]
config.substitutions.append(("%reel", os.path.join(config.reel_bin_dir, "reel")))
config.substitutions.append(("FileCheck", config.filecheck))
config.substitutions.append(("%models", os.path.join(config.reel_source_dir, "models", "configs")))
config.substitutions.append(("%pystdlib", os.path.join(config.reel_source_dir, "models", "trained", "reel-pystdlib-8m.gguf")))
config.substitutions.append(("%plugin_dir", config.reel_plugin_dir))
config.environment["LSAN_OPTIONS"] = "detect_leaks=0"

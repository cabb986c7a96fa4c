// SPDX-License-Identifier: MIT
// Vulkan backend: driver loading, device discovery and ranking, device creation, validation.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/xf_dl.h"
#include "vk_internal.h"

#define XF_VK_VALIDATION_LAYER "VK_LAYER_KHRONOS_validation"

const char* xf_vk_result_name(VkResult r) {
    switch (r) {
#define XF_VK_RES(name) \
    case name:          \
        return #name;
        XF_VK_RES(VK_SUCCESS)
        XF_VK_RES(VK_NOT_READY)
        XF_VK_RES(VK_TIMEOUT)
        XF_VK_RES(VK_INCOMPLETE)
        XF_VK_RES(VK_ERROR_OUT_OF_HOST_MEMORY)
        XF_VK_RES(VK_ERROR_OUT_OF_DEVICE_MEMORY)
        XF_VK_RES(VK_ERROR_INITIALIZATION_FAILED)
        XF_VK_RES(VK_ERROR_DEVICE_LOST)
        XF_VK_RES(VK_ERROR_MEMORY_MAP_FAILED)
        XF_VK_RES(VK_ERROR_LAYER_NOT_PRESENT)
        XF_VK_RES(VK_ERROR_EXTENSION_NOT_PRESENT)
        XF_VK_RES(VK_ERROR_FEATURE_NOT_PRESENT)
        XF_VK_RES(VK_ERROR_INCOMPATIBLE_DRIVER)
        XF_VK_RES(VK_ERROR_TOO_MANY_OBJECTS)
        XF_VK_RES(VK_ERROR_FORMAT_NOT_SUPPORTED)
        XF_VK_RES(VK_ERROR_FRAGMENTED_POOL)
        XF_VK_RES(VK_ERROR_UNKNOWN)
        XF_VK_RES(VK_ERROR_OUT_OF_POOL_MEMORY)
        XF_VK_RES(VK_ERROR_INVALID_EXTERNAL_HANDLE)
        XF_VK_RES(VK_ERROR_FRAGMENTATION)
        XF_VK_RES(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
        XF_VK_RES(VK_PIPELINE_COMPILE_REQUIRED)
        XF_VK_RES(VK_ERROR_VALIDATION_FAILED_EXT)
        XF_VK_RES(VK_ERROR_INVALID_SHADER_NV)
#undef XF_VK_RES
        default:
            return "VkResult(unknown)";
    }
}

xf_status_t xf_vk_fail(xf_err_t* err, VkResult r, const char* what) {
    xf_status_t st = XF_ERR_BACKEND;
    const char* hint = "";
    switch (r) {
        case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        case VK_ERROR_OUT_OF_HOST_MEMORY:
        case VK_ERROR_OUT_OF_POOL_MEMORY:
        case VK_ERROR_FRAGMENTED_POOL:
        case VK_ERROR_FRAGMENTATION:
            st = XF_ERR_OUT_OF_MEMORY;
            hint = "; free tensors or graphs, or use a smaller model or batch";
            break;
        case VK_ERROR_DEVICE_LOST:
            st = XF_ERR_DEVICE_LOST;
            hint = "; destroy the context and create a new one";
            break;
        case VK_ERROR_FEATURE_NOT_PRESENT:
        case VK_ERROR_EXTENSION_NOT_PRESENT:
        case VK_ERROR_LAYER_NOT_PRESENT:
        case VK_ERROR_FORMAT_NOT_SUPPORTED:
            st = XF_ERR_INCOMPATIBLE;
            break;
        case VK_ERROR_INCOMPATIBLE_DRIVER:
        case VK_ERROR_INITIALIZATION_FAILED:
            st = XF_ERR_UNAVAILABLE;
            hint = "; check the Vulkan driver installation (vulkaninfo)";
            break;
        default:
            break;
    }
    return xf_err_set(err, st, "Vulkan: %s failed: %s%s", what, xf_vk_result_name(r), hint);
}

xf_status_t xf_vk_check_validation(xf_device_t* dev, xf_status_t status, xf_err_t* err) {
    if (!dev || !dev->validation) return status;
    pthread_mutex_lock(&dev->msg_lock);
    bool pending = dev->validation_pending;
    char msg[sizeof dev->validation_msg];
    memcpy(msg, dev->validation_msg, sizeof msg);
    dev->validation_pending = false;
    pthread_mutex_unlock(&dev->msg_lock);
    if (!pending) return status;
    if (status != XF_OK && err) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (also Vulkan validation: %s)", msg);
        return status;
    }
    return xf_err_set(err, XF_ERR_BACKEND, "Vulkan validation: %s", msg);
}

void xf_vk_validation_report(xf_device_t* dev, const char* msg) {
    if (!dev->validation) return;
    pthread_mutex_lock(&dev->msg_lock);
    if (!dev->validation_pending) {
        snprintf(dev->validation_msg, sizeof dev->validation_msg, "%s", msg);
        dev->validation_pending = true;
    }
    pthread_mutex_unlock(&dev->msg_lock);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL xf_vk_debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                   VkDebugUtilsMessageTypeFlagsEXT types,
                                                   const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    // General messages (the loader's notes on layers it was told to add) are not findings.
    bool finding =
        types & (VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT);
    if (finding &&
        (severity & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)))
        xf_vk_validation_report(user, data && data->pMessage ? data->pMessage : "?");
    return VK_FALSE;
}

// The loader stays loaded for the life of the process once opened: drivers and layers keep state
// and exit handlers in it, and unloading them would also hide their allocations from leak checkers.
static pthread_once_t xf_vk_lib_once = PTHREAD_ONCE_INIT;
static void* xf_vk_lib;
static char xf_vk_lib_error[256];

// The loader's names on each platform; on Apple platforms MoltenVK itself serves when no loader is
// installed.
#if defined(__APPLE__)
static const char* const xf_vk_lib_names[] = {"libvulkan.1.dylib", "libvulkan.dylib", "libMoltenVK.dylib"};
#else
static const char* const xf_vk_lib_names[] = {"libvulkan.so.1", "libvulkan.so"};
#endif

xf_driver_cache_t xf_vk_driver_cache = XF_DRIVER_CACHE_INIT("MESA_SHADER_CACHE_DIR", "mesa");

static void xf_vk_lib_open(void) {
    xf_driver_cache_init(&xf_vk_driver_cache);
    xf_vk_lib = xf_dl_open_first(xf_vk_lib_names, sizeof xf_vk_lib_names / sizeof xf_vk_lib_names[0]);
    if (!xf_vk_lib) snprintf(xf_vk_lib_error, sizeof xf_vk_lib_error, "%s", dlerror());
}

static xf_status_t xf_vk_load(xf_vk_syms_t* vk, void** out_lib, xf_err_t* err) {
    *out_lib = NULL;
    pthread_once(&xf_vk_lib_once, xf_vk_lib_open);
    void* lib = xf_vk_lib;
    if (!lib)
        return xf_err_set(err, XF_ERR_UNAVAILABLE,
                          "Vulkan: %s could not be loaded (%s); install a Vulkan loader and driver "
                          "(e.g. libvulkan1 and mesa-vulkan-drivers)",
                          xf_vk_lib_names[0], xf_vk_lib_error);
    memset(vk, 0, sizeof *vk);
    *(void**)&vk->vkGetInstanceProcAddr = dlsym(lib, "vkGetInstanceProcAddr");
    if (!vk->vkGetInstanceProcAddr)
        return xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: the loader has no vkGetInstanceProcAddr");
#define XF_VK_GLOBAL(name) vk->name = (PFN_##name)vk->vkGetInstanceProcAddr(NULL, #name);
#define XF_VK_INSTANCE(name)
#define XF_VK_OPTIONAL(name)
#include "vk_syms.def"
#undef XF_VK_GLOBAL
#undef XF_VK_INSTANCE
#undef XF_VK_OPTIONAL
    if (!vk->vkCreateInstance || !vk->vkEnumerateInstanceLayerProperties ||
        !vk->vkEnumerateInstanceExtensionProperties)
        return xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: the loader lacks vkCreateInstance");
    *out_lib = lib;
    return XF_OK;
}

static xf_status_t xf_vk_load_instance(xf_vk_syms_t* vk, VkInstance inst, xf_err_t* err) {
#define XF_VK_GLOBAL(name)
#define XF_VK_INSTANCE(name)                                                                        \
    vk->name = (PFN_##name)vk->vkGetInstanceProcAddr(inst, #name);                                 \
    if (!vk->name)                                                                                 \
        return xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: the loader lacks %s (Vulkan 1.1 needed)", \
                          #name);
#define XF_VK_OPTIONAL(name) vk->name = (PFN_##name)vk->vkGetInstanceProcAddr(inst, #name);
#include "vk_syms.def"
#undef XF_VK_GLOBAL
#undef XF_VK_INSTANCE
#undef XF_VK_OPTIONAL
    return XF_OK;
}

static bool xf_vk_has_instance_ext(xf_vk_syms_t* vk, const char* layer, const char* name) {
    uint32_t n = 0;
    if (vk->vkEnumerateInstanceExtensionProperties(layer, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties* p = xf_calloc(n, sizeof *p);
    bool found = false;
    if (p && vk->vkEnumerateInstanceExtensionProperties(layer, &n, p) >= 0) {
        for (uint32_t i = 0; i < n && !found; ++i) found = strcmp(p[i].extensionName, name) == 0;
    }
    xf_free(p);
    return found;
}

// Whether the loader offers layer |name|: XF_OK, XF_ERR_UNAVAILABLE or XF_ERR_OUT_OF_MEMORY.
static xf_status_t xf_vk_has_layer(xf_vk_syms_t* vk, const char* name) {
    uint32_t n = 0;
    if (vk->vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return XF_ERR_UNAVAILABLE;
    VkLayerProperties* p = xf_calloc(n, sizeof *p);
    if (!p) return XF_ERR_OUT_OF_MEMORY;
    bool found = false;
    if (vk->vkEnumerateInstanceLayerProperties(&n, p) >= 0) {
        for (uint32_t i = 0; i < n && !found; ++i) found = strcmp(p[i].layerName, name) == 0;
    }
    xf_free(p);
    return found ? XF_OK : XF_ERR_UNAVAILABLE;
}

static bool xf_vk_validation_requested(void) {
    const char* v = getenv("XFORMER_VK_VALIDATION");
    return v && *v && strcmp(v, "0") != 0;
}

// Creates the instance. With |dev| non-NULL and validation requested, enables the Khronos layer with
// synchronization validation and routes its messages to |dev|.
// Spelled out so that older Vulkan headers build too.
#define XF_VK_PORTABILITY_ENUMERATION "VK_KHR_portability_enumeration"
#define XF_VK_INSTANCE_ENUMERATE_PORTABILITY 0x00000001u
#define XF_VK_PORTABILITY_SUBSET "VK_KHR_portability_subset"

static xf_status_t xf_vk_create_instance(xf_vk_syms_t* vk, xf_device_t* dev, VkInstance* out, xf_err_t* err) {
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (vk->vkEnumerateInstanceVersion) vk->vkEnumerateInstanceVersion(&loader_version);
    if (loader_version < VK_API_VERSION_1_1)
        return xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: the loader supports Vulkan %u.%u; 1.1 is needed",
                          VK_API_VERSION_MAJOR(loader_version), VK_API_VERSION_MINOR(loader_version));
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "libxformer",
                             .pEngineName = "libxformer",
                             .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    const char* layers[1];
    const char* exts[2];
    VkValidationFeatureEnableEXT enables[] = {VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT};
    VkValidationFeaturesEXT vf = {.sType = VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT,
                                  .enabledValidationFeatureCount = 1,
                                  .pEnabledValidationFeatures = enables};
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = xf_vk_debug_cb,
        .pUserData = dev};
    if (dev && dev->validation) {
        xf_status_t has = xf_vk_has_layer(vk, XF_VK_VALIDATION_LAYER);
        if (has == XF_ERR_OUT_OF_MEMORY)
            return xf_err_set(err, has, "Vulkan: out of host memory listing instance layers");
        if (has != XF_OK)
            return xf_err_set(err, XF_ERR_UNAVAILABLE,
                              "Vulkan: XFORMER_VK_VALIDATION is set but %s is not installed (install "
                              "vulkan-validationlayers, or unset XFORMER_VK_VALIDATION)",
                              XF_VK_VALIDATION_LAYER);
        if (!xf_vk_has_instance_ext(vk, XF_VK_VALIDATION_LAYER, VK_EXT_DEBUG_UTILS_EXTENSION_NAME) &&
            !xf_vk_has_instance_ext(vk, NULL, VK_EXT_DEBUG_UTILS_EXTENSION_NAME))
            return xf_err_set(err, XF_ERR_UNAVAILABLE,
                              "Vulkan: XFORMER_VK_VALIDATION is set but VK_EXT_debug_utils is missing");
        layers[0] = XF_VK_VALIDATION_LAYER;
        exts[ci.enabledExtensionCount++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
        ci.enabledLayerCount = 1;
        ci.ppEnabledLayerNames = layers;
        mci.pNext = &vf;
        ci.pNext = &mci;
    }
    // Portability drivers (MoltenVK) are listed only when the application asks for them.
    if (xf_vk_has_instance_ext(vk, NULL, XF_VK_PORTABILITY_ENUMERATION)) {
        exts[ci.enabledExtensionCount++] = XF_VK_PORTABILITY_ENUMERATION;
        ci.flags |= XF_VK_INSTANCE_ENUMERATE_PORTABILITY;
    }
    ci.ppEnabledExtensionNames = ci.enabledExtensionCount ? exts : NULL;
    VkResult r = vk->vkCreateInstance(&ci, NULL, out);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateInstance");
    // Pins the drivers and layers, which the loader would unload at vkDestroyInstance (see xf_dl.h).
    xf_dl_pin_loaded("/libvulkan_");
    xf_dl_pin_loaded("/libVkLayer_");
    xf_status_t st = xf_vk_load_instance(vk, *out, err);
    if (st == XF_OK && dev && dev->validation) {
        if (!vk->vkCreateDebugUtilsMessengerEXT || !vk->vkDestroyDebugUtilsMessengerEXT) {
            st = xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: vkCreateDebugUtilsMessengerEXT is missing");
        } else {
            mci.pNext = NULL;
            r = vk->vkCreateDebugUtilsMessengerEXT(*out, &mci, NULL, &dev->messenger);
            if (r != VK_SUCCESS) st = xf_vk_fail(err, r, "vkCreateDebugUtilsMessengerEXT");
        }
    }
    if (st != XF_OK) {
        if (vk->vkDestroyInstance) vk->vkDestroyInstance(*out, NULL);
        *out = VK_NULL_HANDLE;
    }
    return st;
}

static xf_device_type_t xf_vk_type(VkPhysicalDeviceType t) {
    switch (t) {
        case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
            return XF_DEVICE_TYPE_DISCRETE_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            return XF_DEVICE_TYPE_INTEGRATED_GPU;
        case VK_PHYSICAL_DEVICE_TYPE_CPU:
            return XF_DEVICE_TYPE_CPU;
        default:
            return XF_DEVICE_TYPE_OTHER;
    }
}

// Lists usable (Vulkan >= 1.1) physical devices ranked GPU first, one entry per deviceUUID.
static xf_status_t xf_vk_ranked(xf_vk_syms_t* vk, VkInstance inst, VkPhysicalDevice** out, uint32_t* out_n,
                                xf_err_t* err) {
    *out = NULL;
    *out_n = 0;
    uint32_t n = 0;
    VkResult r = vk->vkEnumeratePhysicalDevices(inst, &n, NULL);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkEnumeratePhysicalDevices");
    if (n == 0) return XF_OK;
    VkPhysicalDevice* all = xf_calloc(n, sizeof *all);
    uint8_t(*uuids)[VK_UUID_SIZE] = xf_calloc(n, VK_UUID_SIZE);
    VkPhysicalDevice* ranked = xf_calloc(n, sizeof *ranked);
    if (!all || !uuids || !ranked) {
        xf_free(all);
        xf_free(uuids);
        xf_free(ranked);
        return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory listing devices");
    }
    r = vk->vkEnumeratePhysicalDevices(inst, &n, all);
    if (r < 0) {
        xf_free(all);
        xf_free(uuids);
        xf_free(ranked);
        return xf_vk_fail(err, r, "vkEnumeratePhysicalDevices");
    }
    uint32_t count = 0;
    for (int rank = 0; rank < XF_DEVICE_RANKS; ++rank) {
        for (uint32_t i = 0; i < n; ++i) {
            VkPhysicalDeviceProperties p;
            vk->vkGetPhysicalDeviceProperties(all[i], &p);
            if (p.apiVersion < VK_API_VERSION_1_1 || xf_device_type_rank(xf_vk_type(p.deviceType)) != rank) continue;
            VkPhysicalDeviceIDProperties id = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_ID_PROPERTIES};
            VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &id};
            vk->vkGetPhysicalDeviceProperties2(all[i], &p2);
            bool dup = false;
            for (uint32_t j = 0; j < count && !dup; ++j) dup = memcmp(uuids[j], id.deviceUUID, VK_UUID_SIZE) == 0;
            if (dup) continue;
            memcpy(uuids[count], id.deviceUUID, VK_UUID_SIZE);
            ranked[count++] = all[i];
        }
    }
    xf_free(all);
    xf_free(uuids);
    *out = ranked;
    *out_n = count;
    return XF_OK;
}

static bool xf_vk_has_device_ext(xf_vk_syms_t* vk, VkPhysicalDevice pd, const char* name) {
    uint32_t n = 0;
    if (vk->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties* p = xf_calloc(n, sizeof *p);
    bool found = false;
    if (p && vk->vkEnumerateDeviceExtensionProperties(pd, NULL, &n, p) >= 0) {
        for (uint32_t i = 0; i < n && !found; ++i) found = strcmp(p[i].extensionName, name) == 0;
    }
    xf_free(p);
    return found;
}

static void xf_vk_query_features(xf_vk_syms_t* vk, VkPhysicalDevice pd, uint32_t api, xf_vk_features_t* f) {
    memset(f, 0, sizeof *f);
    bool f16i8 = api >= VK_API_VERSION_1_2 || xf_vk_has_device_ext(vk, pd, "VK_KHR_shader_float16_int8");
    bool s8 = api >= VK_API_VERSION_1_2 || xf_vk_has_device_ext(vk, pd, "VK_KHR_8bit_storage");
    VkPhysicalDevice16BitStorageFeatures s16f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16f = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDevice8BitStorageFeatures s8f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &s16f};
    void** tail = &s16f.pNext;
    if (f16i8) {
        *tail = &f16f;
        tail = &f16f.pNext;
    }
    if (s8) *tail = &s8f;
    vk->vkGetPhysicalDeviceFeatures2(pd, &f2);
    f->storage16 = s16f.storageBuffer16BitAccess;
    f->float16 = f16i8 && f16f.shaderFloat16;
    f->storage8 = s8 && s8f.storageBuffer8BitAccess;
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    vk->vkGetPhysicalDeviceProperties2(pd, &p2);
    f->subgroup_size = sg.subgroupSize;
    f->subgroup_arith = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) && sg.subgroupSize >= 1;
    // The shuffle kernels make one subgroup of subgroupSize lanes per work-group; that needs a
    // device whose subgroup size cannot vary (minSubgroupSize == maxSubgroupSize).
    bool fixed = false;
    if (api >= VK_API_VERSION_1_3 || xf_vk_has_device_ext(vk, pd, "VK_EXT_subgroup_size_control")) {
        VkPhysicalDeviceSubgroupSizeControlProperties sc = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
        VkPhysicalDeviceProperties2 q = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sc};
        vk->vkGetPhysicalDeviceProperties2(pd, &q);
        fixed = sc.minSubgroupSize == sc.maxSubgroupSize && sc.maxSubgroupSize == sg.subgroupSize;
    }
    f->subgroup_shuffle = fixed && (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                          (sg.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) && sg.subgroupSize >= 4 &&
                          sg.subgroupSize <= 64;
}

static bool xf_vk_choose_cpu_style(xf_kernel_style_t forced, VkPhysicalDeviceType type) {
    if (forced != XF_KERNELS_AUTO) return forced == XF_KERNELS_CPU;
    return type == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

static void xf_vk_fill_info(xf_vk_syms_t* vk, VkPhysicalDevice pd, int index, const xf_vk_features_t* f,
                            bool fp16, bool subgroup, bool cpu_style, xf_device_info_t* out) {
    memset(out, 0, sizeof *out);
    VkPhysicalDeviceDriverProperties drv = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    VkPhysicalDeviceProperties p;
    vk->vkGetPhysicalDeviceProperties(pd, &p);
    bool has_drv = p.apiVersion >= VK_API_VERSION_1_2 || xf_vk_has_device_ext(vk, pd, "VK_KHR_driver_properties");
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    p2.pNext = &m3;
    if (has_drv) m3.pNext = &drv;
    vk->vkGetPhysicalDeviceProperties2(pd, &p2);
    out->backend = XF_BACKEND_VULKAN;
    out->index = index;
    out->type = xf_vk_type(p.deviceType);
    snprintf(out->name, sizeof out->name, "%s", p.deviceName);
    if (has_drv) {
        snprintf(out->platform, sizeof out->platform, "%s", drv.driverName);
        snprintf(out->driver_version, sizeof out->driver_version, "%.127s", drv.driverInfo);
    } else {
        snprintf(out->platform, sizeof out->platform, "Vulkan vendor 0x%04x", p.vendorID);
        snprintf(out->driver_version, sizeof out->driver_version, "0x%08x", p.driverVersion);
    }
    snprintf(out->api_version, sizeof out->api_version, "Vulkan %u.%u.%u", VK_API_VERSION_MAJOR(p.apiVersion),
             VK_API_VERSION_MINOR(p.apiVersion), VK_API_VERSION_PATCH(p.apiVersion));
    out->fp16 = fp16;
    out->subgroups = subgroup;
    out->subgroup_size = f->subgroup_size;
    VkPhysicalDeviceMemoryProperties mp;
    vk->vkGetPhysicalDeviceMemoryProperties(pd, &mp);
    for (uint32_t i = 0; i < mp.memoryHeapCount; ++i) {
        if (mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) out->global_memory_bytes += mp.memoryHeaps[i].size;
    }
    out->max_buffer_bytes = p.limits.maxStorageBufferRange;
    out->max_allocation_bytes = m3.maxMemoryAllocationSize ? m3.maxMemoryAllocationSize : out->global_memory_bytes;
    out->shared_memory_bytes = p.limits.maxComputeSharedMemorySize;
    out->max_workgroup_size = p.limits.maxComputeWorkGroupInvocations;
    snprintf(out->kernel_style, sizeof out->kernel_style, "%s", cpu_style ? "cpu" : "gpu");
}

static xf_status_t xf_vk_list_devices(const xf_device_options_t* opts, xf_device_info_t* out, size_t capacity,
                                      size_t* out_count, xf_err_t* err) {
    *out_count = 0;
    xf_vk_syms_t vk;
    void* lib;
    xf_status_t st = xf_vk_load(&vk, &lib, err);
    if (st != XF_OK) return XF_OK;  // no driver: zero devices, |err| explains why
    VkInstance inst = VK_NULL_HANDLE;
    st = xf_vk_create_instance(&vk, NULL, &inst, err);
    if (st != XF_OK) return st == XF_ERR_UNAVAILABLE ? XF_OK : st;
    VkPhysicalDevice* pds = NULL;
    uint32_t n = 0;
    st = xf_vk_ranked(&vk, inst, &pds, &n, err);
    if (st == XF_OK && n == 0) xf_err_set(err, XF_OK, "Vulkan: the loader found no device supporting Vulkan 1.1");
    for (uint32_t i = 0; st == XF_OK && i < n && i < capacity; ++i) {
        VkPhysicalDeviceProperties p;
        vk.vkGetPhysicalDeviceProperties(pds[i], &p);
        xf_vk_features_t f;
        xf_vk_query_features(&vk, pds[i], p.apiVersion, &f);
        bool fp16 = f.storage16 && !(opts->disable & XF_FEATURE_FP16);
        bool sg = f.subgroup_arith && !(opts->disable & XF_FEATURE_SUBGROUP);
        xf_vk_fill_info(&vk, pds[i], (int)i, &f, fp16, sg, xf_vk_choose_cpu_style(opts->kernels, p.deviceType),
                        &out[i]);
    }
    if (st == XF_OK) *out_count = n;
    xf_free(pds);
    vk.vkDestroyInstance(inst, NULL);
    return st;
}

static void xf_vk_device_close(xf_device_t* dev) {
    if (!dev) return;
    xf_vk_syms_t* vk = &dev->vk;
    if (dev->device) {
        xf_vk_cache_save(dev);
        xf_vk_pipelines_release(dev);
        xf_vk_memory_release(dev);
        if (dev->fence) vk->vkDestroyFence(dev->device, dev->fence, NULL);
        if (dev->cmd_pool) vk->vkDestroyCommandPool(dev->device, dev->cmd_pool, NULL);
        vk->vkDestroyDevice(dev->device, NULL);
    }
    if (dev->messenger) vk->vkDestroyDebugUtilsMessengerEXT(dev->instance, dev->messenger, NULL);
    if (dev->instance) vk->vkDestroyInstance(dev->instance, NULL);
    pthread_mutex_destroy(&dev->msg_lock);
    xf_tune_close(&dev->tune_db);
    xf_free(dev);
}

static xf_status_t xf_vk_choose_memory(xf_device_t* dev, xf_err_t* err) {
    const VkPhysicalDeviceMemoryProperties* mp = &dev->mem_props;
    const VkMemoryPropertyFlags direct = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                         VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    int best = -1;
    bool visible = false;
    // Direct mapping only where device-local memory is also host-visible and large (UMA, CPU
    // devices, resizable BAR); small BAR windows (256 MiB) would exhaust quickly.
    for (uint32_t i = 0; i < mp->memoryTypeCount && best < 0; ++i) {
        VkMemoryHeap heap = mp->memoryHeaps[mp->memoryTypes[i].heapIndex];
        if ((mp->memoryTypes[i].propertyFlags & direct) == direct && heap.size > ((VkDeviceSize)1 << 30)) {
            best = (int)i;
            visible = true;
        }
    }
    for (uint32_t i = 0; i < mp->memoryTypeCount && best < 0; ++i) {
        if (mp->memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) best = (int)i;
    }
    for (uint32_t i = 0; i < mp->memoryTypeCount && best < 0; ++i) {
        if ((mp->memoryTypes[i].propertyFlags & direct & ~VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) ==
            (direct & ~VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) {
            best = (int)i;
            visible = true;
        }
    }
    if (best < 0) return xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: the device has no usable memory type");
    dev->mem_type = (uint32_t)best;
    // XFORMER_VK_STAGING=1 forces the staging path of discrete GPUs, to test it on any device.
    const char* staging = getenv("XFORMER_VK_STAGING");
    dev->host_visible = visible && !(staging && strcmp(staging, "1") == 0);
    VkDeviceSize heap = mp->memoryHeaps[mp->memoryTypes[best].heapIndex].size;
    dev->block_size = (VkDeviceSize)128 << 20;
    while (dev->block_size > ((VkDeviceSize)16 << 20) && dev->block_size > heap / 8) dev->block_size /= 2;
    return XF_OK;
}

static xf_status_t xf_vk_create_logical(xf_device_t* dev, xf_err_t* err) {
    xf_vk_syms_t* vk = &dev->vk;
    uint32_t nq = 0;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(dev->phys, &nq, NULL);
    VkQueueFamilyProperties qf[32];
    if (nq > 32) nq = 32;
    vk->vkGetPhysicalDeviceQueueFamilyProperties(dev->phys, &nq, qf);
    int family = -1;
    // A compute-only family first (async compute on GPUs), else any family with compute.
    for (uint32_t i = 0; i < nq && family < 0; ++i) {
        if ((qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && !(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT)) family = (int)i;
    }
    for (uint32_t i = 0; i < nq && family < 0; ++i) {
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) family = (int)i;
    }
    if (family < 0) return xf_err_set(err, XF_ERR_INCOMPATIBLE, "Vulkan: the device has no compute queue");
    dev->queue_family = (uint32_t)family;
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = dev->queue_family,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                .storageBuffer16BitAccess = dev->use_fp16};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = &s16,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci};
    // A portability (non-conformant subset) device must have the extension enabled; compute shaders use none
    // of what the subset leaves out.
    const char* subset = XF_VK_PORTABILITY_SUBSET;
    if (xf_vk_has_device_ext(vk, dev->phys, XF_VK_PORTABILITY_SUBSET)) {
        dci.enabledExtensionCount = 1;
        dci.ppEnabledExtensionNames = &subset;
    }
    VkResult r = vk->vkCreateDevice(dev->phys, &dci, NULL, &dev->device);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateDevice");
    vk->vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
    VkCommandPoolCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = dev->queue_family};
    r = vk->vkCreateCommandPool(dev->device, &pci, NULL, &dev->cmd_pool);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateCommandPool");
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    r = vk->vkCreateFence(dev->device, &fci, NULL, &dev->fence);
    if (r != VK_SUCCESS) return xf_vk_fail(err, r, "vkCreateFence");
    return XF_OK;
}

static xf_status_t xf_vk_device_open(int index, const xf_device_options_t* opts, xf_device_t** out_device,
                                     xf_err_t* err) {
    *out_device = NULL;
    xf_device_t* dev = xf_calloc(1, sizeof *dev);
    if (!dev) return xf_err_set(err, XF_ERR_OUT_OF_MEMORY, "Vulkan: out of host memory");
    pthread_mutex_init(&dev->msg_lock, NULL);
    dev->validation = xf_vk_validation_requested();
    xf_status_t st = xf_vk_load(&dev->vk, &dev->lib, err);
    if (st == XF_OK) st = xf_vk_create_instance(&dev->vk, dev, &dev->instance, err);
    VkPhysicalDevice* pds = NULL;
    uint32_t n = 0;
    if (st == XF_OK) st = xf_vk_ranked(&dev->vk, dev->instance, &pds, &n, err);
    if (st == XF_OK && n == 0)
        st = xf_err_set(err, XF_ERR_UNAVAILABLE, "Vulkan: no device supporting Vulkan 1.1 was found");
    if (st == XF_OK && (index < 0 || (uint32_t)index >= n))
        st = xf_err_set(err, XF_ERR_OUT_OF_RANGE, "Vulkan: device index %d is out of range (%u device%s: 0..%u)",
                        index, n, n == 1 ? "" : "s", n - 1);
    if (st == XF_OK) {
        dev->phys = pds[index];
        dev->vk.vkGetPhysicalDeviceProperties(dev->phys, &dev->props);
        dev->vk.vkGetPhysicalDeviceMemoryProperties(dev->phys, &dev->mem_props);
        xf_vk_query_features(&dev->vk, dev->phys, dev->props.apiVersion, &dev->feat);
        dev->use_fp16 = dev->feat.storage16 && !(opts->disable & XF_FEATURE_FP16);
        dev->use_subgroup = dev->feat.subgroup_arith && !(opts->disable & XF_FEATURE_SUBGROUP);
        dev->use_shuffle = dev->feat.subgroup_shuffle && !(opts->disable & XF_FEATURE_SUBGROUP);
        dev->cpu_style = xf_vk_choose_cpu_style(opts->kernels, dev->props.deviceType);
        xf_vk_fill_info(&dev->vk, dev->phys, index, &dev->feat, dev->use_fp16, dev->use_subgroup, dev->cpu_style,
                        &dev->info);
        // A smaller binding limit than the device's (tests): every binding decision reads this one field.
        if (opts->max_binding && opts->max_binding < dev->props.limits.maxStorageBufferRange) {
            dev->props.limits.maxStorageBufferRange = (uint32_t)opts->max_binding;
            dev->info.max_buffer_bytes = opts->max_binding;
        }
        st = xf_vk_choose_memory(dev, err);
    }
    xf_free(pds);
    if (st == XF_OK) st = xf_vk_create_logical(dev, err);
    if (st == XF_OK) st = xf_vk_pipelines_init(dev, err);
    if (st == XF_OK) {
        dev->tune = opts->tune;
        dev->log = opts->log;
        xf_vk_tune_open(dev);
    }
    st = xf_vk_check_validation(dev, st, err);
    if (st != XF_OK) {
        xf_vk_device_close(dev);
        return st;
    }
    *out_device = dev;
    return XF_OK;
}

static void xf_vk_device_info(const xf_device_t* dev, xf_device_info_t* out) { *out = dev->info; }

static void xf_vk_counters(const xf_device_t* dev, xf_exec_counters_t* out) { *out = dev->counters; }

static xf_status_t xf_vk_alloc_entry(xf_device_t* dev, size_t bytes, xf_buffer_t** out, xf_err_t* err) {
    return xf_vk_check_validation(dev, xf_vk_buffer_alloc(dev, bytes, out, err), err);
}

static xf_status_t xf_vk_write_entry(xf_device_t* dev, xf_buffer_t* buf, size_t offset, const void* data,
                                     size_t bytes, xf_err_t* err) {
    return xf_vk_check_validation(dev, xf_vk_buffer_write(dev, buf, offset, data, bytes, err), err);
}

static xf_status_t xf_vk_read_entry(xf_device_t* dev, xf_buffer_t* buf, size_t offset, void* data, size_t bytes,
                                    xf_err_t* err) {
    return xf_vk_check_validation(dev, xf_vk_buffer_read(dev, buf, offset, data, bytes, err), err);
}

static xf_status_t xf_vk_supports_entry(xf_device_t* dev, const xf_exec_node_t* node, xf_err_t* err) {
    return xf_vk_supports(dev, node, err);
}


const xf_backend_vtable_t xf_vk_backend = {
    .kind = XF_BACKEND_VULKAN,
    .name = "vulkan",
    .list_devices = xf_vk_list_devices,
    .device_open = xf_vk_device_open,
    .device_close = xf_vk_device_close,
    .device_info = xf_vk_device_info,
    .supports = xf_vk_supports_entry,
    .node_scratch = xf_vk_node_scratch,
    .op_coverage = xf_vk_op_coverage,
    .buffer_alloc = xf_vk_alloc_entry,
    .buffer_free = xf_vk_buffer_free,
    .buffer_write = xf_vk_write_entry,
    .buffer_read = xf_vk_read_entry,
    .graph_prepare = xf_vk_graph_prepare,
    .graph_compute = xf_vk_graph_compute,
    .graph_release = xf_vk_graph_release,
    .counters = xf_vk_counters,
};
